"""The local runtime: a supervised background process (no Docker needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx


def state(home: Path, sid: str) -> dict:
    return json.loads((home / "run" / f"{sid}.json").read_text())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return stat[0] != "Z"


def test_local_process_survives_cli_exit_logs_stop_start_rm(oca, oca_home, suffix) -> None:  # noqa: ANN001
    name = f"loc-{suffix}"
    r = oca("--json", "service", "add", name, "--recipe", "echo-http", "--runtime", "local",
            "--scope", "db")
    assert r.code == 0, r.err
    svc = r.json()
    sid, loc = svc["id"], svc["locations"]["local"]
    assert svc["runtime"] == "local" and loc.startswith("127.0.0.1:")
    pid = state(oca_home, sid)["pid"]
    try:
        # the CLI process has exited; the backend still answers, from its own session
        assert alive(pid) and os.getsid(pid) == pid
        info = httpx.get(f"http://{loc}/info").json()
        assert info["pid"] == pid and info["data"] == str(oca_home / "run" / sid)
        r = oca("--json", "service", "ping", name)
        assert r.code == 0 and r.json()["status"] == "ok"
        r = oca("service", "logs", name)
        assert r.code == 0 and "echo-http listening on 127.0.0.1" in r.out
        assert "GET /info" in r.out

        assert oca("service", "stop", name).code == 0
        assert not alive(pid)
        r = oca("service", "ping", name)
        assert r.code == 5 and f"error: service {name} is down" in r.err
        assert oca("service", "start", name).code == 0
        pid2 = state(oca_home, sid)["pid"]
        assert pid2 != pid and alive(pid2)
        # same port and data folder as before the stop
        assert httpx.get(f"http://{loc}/info").json()["hits"] == 2
    finally:
        r = oca("service", "rm", name, "--purge")
    assert r.code == 0
    pid = locals().get("pid2", pid)
    deadline = time.monotonic() + 5
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid)
    assert not (oca_home / "run" / sid).exists()
    assert not (oca_home / "run" / f"{sid}.log").exists()
    assert not (oca_home / "run" / f"{sid}.json").exists()


def test_stale_pid_is_detected_and_never_signalled(oca, oca_home, suffix) -> None:  # noqa: ANN001
    name = f"stale-{suffix}"
    r = oca("--json", "service", "add", name, "--recipe", "echo-http", "--runtime", "local",
            "--scope", "db")
    assert r.code == 0, r.err
    sid = r.json()["id"]
    st = state(oca_home, sid)
    os.kill(st["pid"], signal.SIGKILL)
    # An unrelated process takes the place of the recorded pid (as after a pid wrap-around).
    other = subprocess.Popen(["sleep", "60"])
    try:
        (oca_home / "run" / f"{sid}.json").write_text(json.dumps({**st, "pid": other.pid}))
        from oca.models import Service
        from oca.registry import Registry
        from oca.runtime.local import LocalRuntime

        svc: Service = Registry().get(name)
        assert LocalRuntime().status(svc) == "stopped"
        assert oca("service", "ping", name).code == 5
        r = oca("service", "start", name)
        assert r.code == 0, r.err
        assert other.poll() is None  # the unrelated process was left alone
        assert state(oca_home, sid)["pid"] != other.pid
        assert oca("service", "ping", name).code == 0
        assert oca("service", "rm", name, "--purge").code == 0
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_local_needs_a_local_recipe(oca) -> None:  # noqa: ANN001
    r = oca("service", "add", "x", "--recipe", "redis", "--runtime", "local")
    assert r.code == 6 and "cannot run as a local process" in r.err
    r = oca("service", "add", "x", "--recipe", "nope", "--runtime", "local")
    assert r.code == 3 and "unknown recipe" in r.err


def test_no_engine_means_local_for_a_local_recipe(oca, oca_home, suffix) -> None:  # noqa: ANN001
    env = {"DOCKER_HOST": "tcp://127.0.0.1:1"}
    name = f"auto-{suffix}"
    r = oca("--json", "service", "add", name, "--recipe", "echo-http", "--scope", "db", env=env)
    assert r.code == 0, r.err
    try:
        assert r.json()["runtime"] == "local"
        assert oca("service", "ping", name, env=env).code == 0
    finally:
        assert oca("service", "rm", name, "--purge", env=env).code == 0
