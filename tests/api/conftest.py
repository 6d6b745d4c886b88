"""Fixtures of the HTTP API tests: an in-process app, services, a real `oca serve`, Redis."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float = 20.0, what: str = "condition"):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def client(oca_home: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """The app in-process (real core, real queue), with a job worker running in it."""
    from fastapi.testclient import TestClient

    from oca.api.app import create_app

    monkeypatch.delenv("OCA_API_TOKEN", raising=False)
    monkeypatch.delenv("OCA_QUEUE_URL", raising=False)
    with TestClient(create_app(worker=True), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def echo_id(oca_home: Path) -> str:
    """A db service on the in-memory echo-db driver (no backend at all)."""
    from oca import services
    from oca.models import ServiceBase

    svc = services.add(ServiceBase(name="echo", scope="db", app="echo", app_version="1",
                                   locations={"node1": "127.0.0.1:5552"},
                                   meta={"password": "hunter2", "user": "me"}))
    return svc.id


@pytest.fixture
def sqlite_id(oca_home: Path) -> str:
    """A db service on the sqlite driver: a file, so several processes see the same data."""
    import sqlite3

    from oca import services
    from oca.models import ServiceBase

    svc = services.add(ServiceBase(
        name="lite", scope="db", app="sqlite", app_version=sqlite3.sqlite_version,
        runtime="embedded", locations={"path": str(oca_home / "lite.sqlite")}))
    return svc.id


class Proc:
    """A background `oca` process (serve or worker) with its log file."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.fh = log.open("wb")
        self.p = subprocess.Popen([sys.executable, "-m", "oca", *args], env=env, cwd=ROOT,
                                  stdout=self.fh, stderr=subprocess.STDOUT,
                                  start_new_session=True)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.fh.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def spawn(oca_home: Path, tmp_path: Path) -> Iterator:
    """spawn("serve", "--port", "8123", env={...}) → Proc; every process is killed at the end."""
    procs: list[Proc] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Proc:
        full = {**os.environ, "OCA_HOME": str(oca_home), **(env or {})}
        p = Proc(list(args), full, tmp_path / f"proc-{len(procs)}.log")
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.kill()


@pytest.fixture
def served(spawn):  # noqa: ANN001, ANN201
    """Start a real `oca serve` on a free port; returns (base_url, Proc)."""
    import httpx

    def start(*extra: str, env: dict[str, str] | None = None,
              timeout: float = 30) -> tuple[str, Proc]:
        port = free_port()
        p = spawn("serve", "--port", str(port), *extra, env=env)
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if p.p.poll() is not None:
                raise AssertionError(f"oca serve exited:\n{p.output()}")
            try:
                return httpx.get(base + "/", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout, "oca serve to answer")
        return base, p

    return start


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A real Debian redis-server on a free port, for the distributed queue."""
    exe = shutil.which("redis-server")
    if exe is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed")
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    p = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
                          "--save", "", "--appendonly", "yes"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        wait_until(up, 15, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        p.terminate()
        p.wait(10)


def require(condition: bool, reason: str) -> None:
    """Skip with a visible reason on a developer machine; fail in CI (never skip silently)."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def scope_service(oca_home: Path):  # noqa: ANN201
    """scope_service("ai") → id of a service on the first native driver of that scope,
    registered at an address where nothing listens (enqueueing needs no backend)."""
    from oca import discovery, services
    from oca.models import ServiceBase

    def make(scope: str, name: str | None = None) -> str:
        drivers = sorted((d for d in discovery.all_drivers() if d.scope == scope),
                         key=lambda d: d.kind != "python")  # no container to build
        require(bool(drivers), f"no {scope} driver is installed yet")
        d = drivers[0]
        svc = services.add(ServiceBase(
            name=name or f"{scope}-down", scope=scope, app=d.app, driver=d.ref,
            locations={"node1": f"127.0.0.1:{free_port()}"}, retries=1, timeout=5))
        return svc.id

    return make
