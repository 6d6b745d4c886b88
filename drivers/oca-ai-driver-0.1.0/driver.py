"""The ai driver for oca's model server (`oca.backends.ai_server`, recipe `ai`).

Runs in-process in the CLI and in `oca serve`, so it imports only the standard library:
one keep-alive `http.client` connection per thread (calls for many files run in parallel
threads), the image as the raw request body, JSON back.
"""

from __future__ import annotations

import http.client
import json
import threading
from typing import Any
from urllib.parse import urlencode

from oca.contract.ai import AiDriver
from oca.errors import BackendUnreachable, BadInput, NotFound, OcaError, Timeout, Unavailable

_ERRORS: dict[str, type[OcaError]] = {
    "invalid_input": BadInput,
    "not_found": NotFound,
    "unavailable": Unavailable,
    "timeout": Timeout,
}


class ModelServerDriver(AiDriver):
    capabilities = {
        "formats": ["JPEG", "PNG", "GIF", "WebP", "BMP", "TIFF"],
        "models": ["efficientnet-lite0 (default, offline)", "local .onnx",
                   "TorchScript / state dict (server with torch)", "torch hub (with network)"],
        "top_k": True,
        "batching": "server-side, adaptive window",
    }

    def __init__(self, hosts: list[str], meta: dict[str, Any]) -> None:
        super().__init__(hosts, meta)
        if not hosts:
            raise BadInput("the ai service has no location (HOST:PORT)")
        host, sep, port = hosts[0].rpartition(":")
        if not sep or not port.isdigit():
            raise BadInput(f"missing port in host {hosts[0]}")
        self.host, self.port = host.strip("[]"), int(port)
        self.timeout = float(meta.get("timeout", 30) or 30)
        self._local = threading.local()

    # ------------------------------------------------------------ transport
    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def request(self, method: str, path: str, body: bytes | None = None,
                ctype: str = "application/json") -> Any:
        headers = {"Content-Type": ctype} if body is not None else {}
        where = f"{self.host}:{self.port}"
        for attempt in (0, 1):  # a kept-alive connection the server closed: reconnect once
            conn = self._conn()
            try:
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                break
            except TimeoutError as e:
                self._drop()
                raise Timeout(f"the AI backend at {where} did not answer within "
                              f"{self.timeout:g} s") from e
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as e:
                self._drop()
                if attempt:
                    raise BackendUnreachable(f"the AI backend at {where} closed the "
                                             f"connection: {e}") from e
            except (OSError, http.client.HTTPException) as e:
                self._drop()
                raise BackendUnreachable(
                    f"the AI backend at {where} is unreachable: {e}",
                    hint="check it with `oca service ping` / `oca service start`") from e
        if r.getheader("Connection", "").lower() == "close":
            self._drop()
        try:
            payload = json.loads(data) if data else None
        except ValueError:
            payload = None
        if r.status >= 400:
            err = payload.get("error") if isinstance(payload, dict) else None
            if isinstance(err, dict):
                cls = _ERRORS.get(str(err.get("type")), Unavailable)
                raise cls(str(err.get("message")), hint=err.get("hint"))
            raise Unavailable(f"the AI backend at {where} answered {r.status}: {data[:200]!r}")
        if payload is None:
            raise Unavailable(f"the AI backend at {where} answered with non-JSON output")
        return payload

    def _json(self, method: str, path: str, data: dict[str, Any]) -> Any:
        return self.request(method, path, json.dumps(data).encode())

    # ------------------------------------------------------------ contract
    def ping(self) -> dict[str, Any]:
        return self.request("GET", "/ping")

    def usage(self) -> dict[str, Any]:
        return self.request("GET", "/usage")

    def models(self) -> dict[str, Any]:
        return self.request("GET", "/models")

    def serve(self, name: str = "", path: str = "",
              kwargs: dict[str, Any] | None = None) -> Any:
        return self._json("POST", "/serve", {"name": name, "path": path, "kwargs": kwargs or {}})

    def unload(self, name: str) -> Any:
        return self._json("POST", "/unload", {"name": name})

    def predict(self, img: bytes, model: str | None = None, top_k: int = 5) -> Any:
        query = {"top_k": str(int(top_k))}
        if model:
            query["model"] = model
        return self.request("POST", "/predict?" + urlencode(query), bytes(img),
                            "application/octet-stream")

    def close(self) -> None:
        self._drop()


