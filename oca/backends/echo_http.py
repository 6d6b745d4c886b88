"""A tiny HTTP backend for trying the runtimes: `GET /ping`, `GET /info`, `POST /echo`.

Run as `python -m oca.backends.echo_http --host H --port P --data DIR` (the local runtime's
convention) or inside the `echo-http` recipe image. It counts requests in `DIR/hits`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Handler(BaseHTTPRequestHandler):
    server_version = "oca-echo-http/0.1"
    data: Path = Path(".")

    def _reply(self, code: int, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _hit(self) -> int:
        path = self.data / "hits"
        try:
            n = int(path.read_text()) + 1
        except (OSError, ValueError):
            n = 1
        path.write_text(str(n))
        return n

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/ping":
            self._reply(200, {"status": "ok"})
        elif self.path == "/info":
            self._reply(200, {"pid": os.getpid(), "hits": self._hit(), "data": str(self.data)})
        else:
            self._reply(404, {"error": {"type": "not_found", "message": self.path}})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/echo":
            self._reply(404, {"error": {"type": "not_found", "message": self.path}})
            return
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n)
        self._reply(200, {"echo": body.decode(errors="replace"), "hits": self._hit()})

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        sys.stdout.write(f"{self.address_string()} {format % args}\n")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="oca.backends.echo_http")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--data", default=".")
    args = p.parse_args(argv)
    Handler.data = Path(args.data)
    Handler.data.mkdir(parents=True, exist_ok=True)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"echo-http listening on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
