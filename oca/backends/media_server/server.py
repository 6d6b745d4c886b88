"""The HTTP front of the ffmpeg backend (stdlib server: starts in ~0.1 s, no dependencies).

Errors carry upstream's shape `{"status": "error", "description": ...}` and oca's
`{"error": {"type", "message", "hint"}}` together; bad input is 400, unknown ids 404.
"""

from __future__ import annotations

import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from oca import __version__
from oca.backends.media_server import caps
from oca.backends.media_server.runner import Runner
from oca.contract.media import InputFile, Pipeline
from oca.errors import BadInput, NotFound, OcaError, Timeout, Unavailable
from oca.models import parse

MAX_JSON = 1 << 20
MAX_UPLOAD = 8 << 30
INFO = {"info": "ffmpeg server on oca", "app": "oca-ffmpeg", "version": __version__,
        "urls": ["/", "/ping", "/probe", "/pipeline", "/upload"]}


def http_status(e: OcaError) -> int:
    if isinstance(e, BadInput):
        return 400
    if isinstance(e, NotFound):
        return 404
    if isinstance(e, Timeout):
        return 504
    if isinstance(e, Unavailable):
        return 503
    return 500


class Handler(BaseHTTPRequestHandler):
    runner: Runner
    protocol_version = "HTTP/1.1"
    server_version = "oca-ffmpeg"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_JSON:
            raise BadInput("request body too large")
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError as e:
            raise BadInput(f"Wrong JSON: {e}") from e

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        r = self.runner
        if method == "GET" and path == "/":
            return self._send(200, INFO)
        if method == "GET" and path == "/ping":
            return self._send(200, {"status": "ok", "ffmpeg": caps.version(),
                                    "pipelines": len(r.pipelines)})
        if method == "POST" and path == "/probe":
            return self._send(200, r.probe(parse(InputFile, self._json())))
        if path == "/pipeline":
            if method == "POST":
                return self._send(200, r.create(parse(Pipeline, self._json())))
            if method == "GET":
                return self._send(200, r.list())
        if method == "POST" and path == "/upload":
            length = int(self.headers.get("Content-Length") or -1)
            if length < 0 or length > MAX_UPLOAD:
                raise BadInput("upload needs a Content-Length up to 8 GiB")
            return self._send(200, r.upload(self.rfile, length, query.get("name", "upload")))
        m = re.fullmatch(r"/pipeline/([A-Za-z0-9]{1,40})", path)
        if m:
            if method == "GET":
                try:
                    wait = float(query.get("wait") or 0)
                except ValueError as e:
                    raise BadInput("wait must be a number of seconds") from e
                return self._send(200, r.status(m.group(1), wait))
            if method == "DELETE":
                return self._send(200, r.stop(m.group(1)))
        m = re.fullmatch(r"/pipeline/([A-Za-z0-9]{1,40})/output/([A-Za-z0-9]{1,40})", path)
        if m and method == "GET":
            return self._file(r.output_file(m.group(1), m.group(2)))
        raise NotFound(f"no route {method} {path}")

    def _file(self, path: Any) -> None:
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                self.wfile.write(chunk)

    def _handle(self, method: str) -> None:
        try:
            self._route(method)
        except OcaError as e:
            description = e.detail if e.detail is not None else e.message
            self.close_connection = True  # an unread request body must not be parsed next
            self._send(http_status(e), {"status": "error", "description": description,
                                        "error": e.to_dict()})
        except Exception as e:  # noqa: BLE001 - answer 500, keep serving
            err = OcaError(f"internal error: {type(e).__name__}: {e}")
            self.close_connection = True
            self._send(500, {"status": "error", "description": err.message,
                             "error": err.to_dict()})

    def do_GET(self) -> None:  # noqa: N802 - stdlib names
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")


def make_server(host: str, port: int, runner: Runner) -> ThreadingHTTPServer:
    handler = type("MediaHandler", (Handler,), {"runner": runner})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server
