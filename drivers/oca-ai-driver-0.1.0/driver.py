"""The ai driver for oca's model server (`oca.backends.ai_server`, recipe `ai`).

Runs in-process in the CLI and in `oca serve`, so it imports only `socket` and `json`: a
minimal HTTP/1.1 client (http.client alone pulls in email and ssl, tens of ms per CLI call)
with one keep-alive connection per thread (calls for many files run in parallel threads),
the image as the raw request body, JSON back. The model server always answers with a
Content-Length.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any
from urllib.parse import urlencode

from oca.contract.ai import AiDriver
from oca.errors import (
    BackendUnreachable,
    BadInput,
    Timeout,
    Unavailable,
    error_from_body,
)


class _Closed(Exception):
    """The server closed a kept-alive connection before answering."""


class _Conn:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rfile = self.sock.makefile("rb")
        self.host = f"{host}:{port}"

    def request(self, method: str, path: str, body: bytes | None,
                headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}",
                 f"Content-Length: {len(body or b'')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))
        status_line = self.rfile.readline(65537)
        if not status_line:
            raise _Closed("connection closed without an answer")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise OSError(f"not an HTTP answer: {status_line[:80]!r}")
        head: dict[str, str] = {}
        while True:
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            head[k.strip().lower()] = v.strip()
        if "content-length" in head:
            n = int(head["content-length"])
            data = self.rfile.read(n)
            if len(data) < n:
                raise _Closed("connection closed in the middle of the answer")
        else:
            data = self.rfile.read()
            head["connection"] = "close"
        return int(parts[1]), head, data

    def close(self) -> None:
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass


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
    def _conn(self) -> _Conn:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = _Conn(self.host, self.port, self.timeout)
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
            reused = getattr(self._local, "conn", None) is not None
            try:
                status, head, data = self._conn().request(method, path, body, headers)
                break
            except TimeoutError as e:
                self._drop()
                raise Timeout(f"the AI backend at {where} did not answer within "
                              f"{self.timeout:g} s") from e
            except (_Closed, BrokenPipeError, ConnectionResetError) as e:
                self._drop()
                if attempt or not reused:
                    raise BackendUnreachable(f"the AI backend at {where} closed the "
                                             f"connection: {e}") from e
            except (OSError, ValueError) as e:
                self._drop()
                raise BackendUnreachable(
                    f"the AI backend at {where} is unreachable: {e}",
                    hint="check it with `oca service ping` / `oca service start`") from e
        if head.get("connection", "").lower() == "close":
            self._drop()
        try:
            payload = json.loads(data) if data else None
        except ValueError:
            payload = None
        if status >= 400:
            typed = error_from_body(payload, Unavailable)
            if typed is not None:
                raise typed
            raise Unavailable(f"the AI backend at {where} answered {status}: {data[:200]!r}")
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


