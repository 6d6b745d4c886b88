"""Small network helpers: free ports and readiness checks with a deadline (never a sleep)."""

from __future__ import annotations

import socket
import struct
import time
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
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - our own URL
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def redis_ready(host: str, port: int, timeout: float = 1.0) -> bool:
    """Redis answers `PING` with `+PONG` (a `-NOAUTH` error still means it is up)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            reply = s.recv(64)
    except OSError:
        return False
    return reply.startswith(b"+PONG") or reply.startswith(b"-NOAUTH")


def postgres_ready(host: str, port: int, user: str = "postgres", database: str = "postgres",
                   timeout: float = 1.0) -> bool:
    """A PostgreSQL startup message is answered with ReadyForQuery (or an auth request).

    An `E` reply (e.g. "the database system is starting up") means not ready yet.
    """
    params = f"user\0{user}\0database\0{database}\0\0".encode()
    startup = struct.pack("!ii", 8 + len(params), 196608) + params
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(startup)
            buf = b""
            while True:
                while len(buf) < 5:
                    chunk = s.recv(4096)
                    if not chunk:
                        return False
                    buf += chunk
                kind, length = buf[:1], struct.unpack("!i", buf[1:5])[0]
                if kind == b"E":
                    return False
                if kind == b"R" and len(buf) >= 9 and struct.unpack("!i", buf[5:9])[0] != 0:
                    s.sendall(b"X\0\0\0\4")
                    return True  # up, but wants a password: alive for a health check
                if kind == b"Z":
                    s.sendall(b"X\0\0\0\4")
                    return True
                while len(buf) < 1 + length:
                    chunk = s.recv(4096)
                    if not chunk:
                        return False
                    buf += chunk
                buf = buf[1 + length:]
    except (OSError, struct.error):
        return False


def health_check(kind: str, host: str, port: int) -> bool:
    """One readiness probe by recipe `health` kind: `http:/path`, `redis`, `postgres`, `tcp`."""
    if kind.startswith("http:"):
        return http_ready(f"http://{host}:{port}{kind[5:]}")
    if kind == "redis":
        return redis_ready(host, port)
    if kind == "postgres":
        return postgres_ready(host, port)
    return tcp_ready(host, port)


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
