"""The few latency-critical engine calls, straight to the Docker Engine API.

`oca service add` and `rm` are measured against a raw `docker run` / `docker rm -f`
(bench/runtime.py). python-on-whales runs the docker CLI for each call and costs about 0.3 s
to import, which alone breaks the 1.5x goal; so creating, starting, inspecting and removing
a service's container go over the engine's socket (HTTP/1.1, JSON) when the engine is a plain
unix or tcp socket. Everything else — and these calls too when the engine is reached through
TLS, ssh or a docker context — goes through python-on-whales.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
from typing import Any
from urllib.parse import quote, urlencode, urlparse

from oca.errors import EngineUnavailable, OcaError


class ApiError(OcaError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def available() -> bool:
    """True when the engine is a plain socket this module can speak to."""
    from oca.runtime.docker import engine_name

    url = urlparse(engine_name())
    return (url.scheme in ("unix", "tcp") and not os.environ.get("DOCKER_TLS_VERIFY")
            and not os.environ.get("DOCKER_CONTEXT")
            and os.environ.get("OCA_ENGINE_API", "1") != "0")


def _connection(timeout: float) -> http.client.HTTPConnection:
    from oca.runtime.docker import engine_name

    url = urlparse(engine_name())
    if url.scheme == "unix":
        return _UnixConnection(url.path, timeout)
    return http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 2375,
                                      timeout=timeout)


def request(method: str, path: str, body: Any = None, params: dict[str, Any] | None = None,
            timeout: float = 60.0, raw: bool = False) -> Any:
    from oca.runtime.docker import engine_name

    if params:
        path += "?" + urlencode(params)
    conn = _connection(timeout)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
    except OSError as e:
        raise EngineUnavailable(f"Docker engine unreachable at {engine_name()}",
                                hint="run oca doctor") from e
    finally:
        conn.close()
    if resp.status >= 400:
        try:
            msg = json.loads(payload).get("message", "")
        except ValueError:
            msg = payload.decode(errors="replace")
        raise ApiError(resp.status, msg or f"HTTP {resp.status}")
    if raw:
        return payload
    return json.loads(payload) if payload else None


def image_labels(tag: str) -> dict[str, str] | None:
    try:
        info = request("GET", f"/images/{quote(tag, safe='')}/json")
    except ApiError as e:
        if e.status == 404:
            return None
        raise
    return (info.get("Config") or {}).get("Labels") or {}


def ensure_network(name: str, labels: dict[str, str]) -> None:
    try:
        request("POST", "/networks/create",
                {"Name": name, "Labels": labels, "CheckDuplicate": True})
    except ApiError as e:
        if e.status != 409:
            raise


def ensure_volume(name: str, labels: dict[str, str]) -> None:
    request("POST", "/volumes/create", {"Name": name, "Labels": labels})


def run(image: str, name: str, labels: dict[str, str], network: str, aliases: list[str],
        port: int, host_ip: str, host_port: int, volumes: list[tuple[str, str]],
        command: list[str] | None = None, restart: str = "unless-stopped") -> str:
    """`docker run -d --init --restart ... --network ... -p ...`; the container id.

    Raises ApiError 404 for a missing image or network (the caller creates and retries).
    """
    key = f"{port}/tcp"
    body: dict[str, Any] = {
        "Image": image,
        "Labels": labels,
        "ExposedPorts": {key: {}},
        "HostConfig": {
            "Init": True,
            "RestartPolicy": {"Name": restart},
            "PortBindings": {key: [{"HostIp": host_ip, "HostPort": str(host_port)}]},
            "NetworkMode": network,
            "Binds": [f"{v}:{p}" for v, p in volumes],
        },
        "NetworkingConfig": {"EndpointsConfig": {network: {"Aliases": aliases}}},
    }
    if command:
        body["Cmd"] = command
    cid = request("POST", "/containers/create", body, {"name": name})["Id"]
    try:
        request("POST", f"/containers/{cid}/start")
    except OcaError:
        remove(cid)
        raise
    return cid


def inspect(cid: str) -> dict[str, Any]:
    return request("GET", f"/containers/{cid}/json")


def start(cid: str) -> None:
    request("POST", f"/containers/{cid}/start")


def remove(cid: str, volumes: bool = True) -> None:
    try:
        request("DELETE", f"/containers/{cid}", params={"force": "1", "v": "1" if volumes else "0"})
    except ApiError as e:
        if e.status != 404:
            raise


def list_ids(labels: dict[str, str]) -> list[dict[str, Any]]:
    flt = json.dumps({"label": [f"{k}={v}" for k, v in labels.items()]})
    return request("GET", "/containers/json", params={"all": "1", "filters": flt})


def remove_volume(name: str) -> None:
    try:
        request("DELETE", f"/volumes/{quote(name, safe='')}")
    except ApiError as e:
        if e.status != 404:
            raise


def logs(cid: str, tail: int = 20) -> str:
    """The last lines of a container without a TTY (demultiplexes the 8-byte frames)."""
    data = request("GET", f"/containers/{cid}/logs",
                   params={"stdout": "1", "stderr": "1", "tail": str(tail)}, raw=True)
    out = []
    i = 0
    while i + 8 <= len(data) and data[i] in (0, 1, 2) and data[i + 1:i + 4] == b"\0\0\0":
        size = struct.unpack(">I", data[i + 4:i + 8])[0]
        out.append(data[i + 8:i + 8 + size])
        i += 8 + size
    text = b"".join(out) if out else data
    return text.decode(errors="replace").strip()
