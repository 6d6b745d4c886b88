"""`python -m oca.backends.media_server --host H --port P --data DIR [--allow DIR ...]`."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path


def default_stream_host() -> str:
    """Where mpegts outputs go by default: the docker host in a container, else localhost."""
    if not Path("/.dockerenv").exists():
        return "127.0.0.1"
    try:
        for line in Path("/proc/net/route").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1] == "00000000":
                gw = bytes.fromhex(fields[2])[::-1]
                return ".".join(str(b) for b in gw)
    except (OSError, IndexError, ValueError):
        pass
    return "127.0.0.1"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="oca-ffmpeg", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5552)
    p.add_argument("--data", default=".", help="uploads, outputs and state")
    p.add_argument("--allow", action="append", default=[],
                   help="a folder sources may be read from (besides uploads); repeatable")
    p.add_argument("--stream-host", default=None, help="default mpegts UDP destination host")
    p.add_argument("--probe-timeout", type=float, default=20.0)
    a = p.parse_args(argv)

    from oca.backends.media_server.runner import Runner
    from oca.backends.media_server.server import make_server

    roots = [*a.allow, *filter(None, os.environ.get("OCA_MEDIA_ROOTS", "").split(os.pathsep))]
    runner = Runner(Path(a.data), [Path(r) for r in roots],
                    stream_host=a.stream_host or default_stream_host(),
                    probe_timeout=a.probe_timeout)
    server = make_server(a.host, a.port, runner)

    def shutdown(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    sys.stderr.write(f"oca-ffmpeg listening on {a.host}:{a.port}, data in {runner.data}\n")
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        runner.close()
        server.server_close()


if __name__ == "__main__":
    main()
