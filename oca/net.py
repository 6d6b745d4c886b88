"""Small network helpers: free ports and readiness checks with a deadline (never a sleep)."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def split_hostport(location: str) -> tuple[str, int]:
    host, _, port = location.rpartition(":")
    return host.strip("[]"), int(port)


def tcp_ready(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_ready(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - our own URL
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(check: Callable[[], bool], deadline_s: float, every: float = 0.05,
               alive: Callable[[], bool] | None = None) -> bool:
    """Poll `check` until it is true or `deadline_s` passes; stop early if `alive` says no."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return True
        if alive is not None and not alive():
            return False
        time.sleep(every)
    return check()
