"""Protocol readiness checks against real sockets, and the engine probe."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from oca.net import free_port, health_check, postgres_ready, redis_ready, wait_until


@contextmanager
def server(reply: Callable[[bytes], bytes]) -> Iterator[int]:
    """A real TCP server answering each connection's first bytes with `reply(data)`."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    stop = threading.Event()

    def loop() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                data = conn.recv(1024)
                out = reply(data)
                if out:
                    conn.sendall(out)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield port
    finally:
        stop.set()
        t.join()
        sock.close()


def pg_message(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("!i", 4 + len(payload)) + payload


def test_redis_check_wants_pong() -> None:
    with server(lambda d: b"+PONG\r\n" if b"PING" in d else b"") as port:
        assert redis_ready("127.0.0.1", port)
    with server(lambda d: b"-ERR loading\r\n") as port:
        assert not redis_ready("127.0.0.1", port)
    with server(lambda d: b"") as port:  # accepts and closes, like docker-proxy
        assert not redis_ready("127.0.0.1", port)
    assert not redis_ready("127.0.0.1", free_port())


def test_postgres_check_wants_ready_for_query() -> None:
    ok = (pg_message(b"R", struct.pack("!i", 0)) + pg_message(b"S", b"server_version\x0015\x00")
          + pg_message(b"K", b"\0" * 8) + pg_message(b"Z", b"I"))
    seen: list[bytes] = []

    def answer(data: bytes) -> bytes:
        seen.append(data)
        return ok

    with server(answer) as port:
        assert postgres_ready("127.0.0.1", port)
    # a v3 startup message for user postgres
    assert struct.unpack("!i", seen[0][4:8])[0] == 196608 and b"user\0postgres\0" in seen[0]
    starting = pg_message(b"E", b"SFATAL\0C57P03\0Mthe database system is starting up\0\0")
    with server(lambda d: starting) as port:
        assert not postgres_ready("127.0.0.1", port)
    with server(lambda d: pg_message(b"R", struct.pack("!i", 5) + b"salt")) as port:
        assert postgres_ready("127.0.0.1", port)  # up, asks for a password
    with server(lambda d: b"") as port:
        assert not postgres_ready("127.0.0.1", port)


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs Debian's redis-server")
def test_checks_against_a_real_redis_server(tmp_path) -> None:  # noqa: ANN001
    port = free_port()
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                          "--save", "", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: health_check("redis", "127.0.0.1", port), 10)
        assert not health_check("postgres", "127.0.0.1", port)
        assert not health_check("http:/ping", "127.0.0.1", port)
    finally:
        p.terminate()
        p.wait()


def test_engine_probe_is_fast_and_cached(monkeypatch) -> None:  # noqa: ANN001
    from oca.runtime import docker

    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:1")
    t0 = time.perf_counter()
    assert docker.engine_reachable() is False
    assert docker.engine_reachable() is False
    assert time.perf_counter() - t0 < 0.5
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert docker.engine_reachable() is False


def test_help_does_not_import_python_on_whales() -> None:
    code = ("import sys; from oca.cli.app import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "assert 'python_on_whales' not in sys.modules, 'imported'\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
