"""Jobs: huey queue (SQLite, Redis), upstream's ticket and job shapes, failure reasons,
cancel, the `oca job` CLI, and jobs surviving a worker restart."""

from __future__ import annotations

import json
import signal
import sqlite3
import textwrap
import time
from pathlib import Path

import pytest

from tests.api.conftest import free_port, wait_until

DOWN_DRIVER = '''
import socket

from oca.contract.db import DbDriver
from oca.errors import BackendUnreachable


class DownDriver(DbDriver):
    """Connects for real to its first host; counts attempts in meta["log"]."""

    backend = "sqlite"

    def _connect(self):
        host, _, port = self.hosts[0].rpartition(":")
        with open(self.meta["log"], "a") as f:
            f.write("attempt\\n")
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
        except OSError as e:
            raise BackendUnreachable(f"backend {self.hosts[0]} is down: {e.strerror}")

    def ping(self):
        self._connect()
        return {"status": "ok"}

    def _list_tables(self):
        self._connect()
        return []

    def _create_table(self, table):
        self._connect()
'''


@pytest.fixture
def down_id(oca_home: Path) -> str:
    """A db service whose (real, tiny) plugin driver reaches a port where nothing listens."""
    from oca import services
    from oca.models import ServiceBase

    folder = oca_home / "drivers" / "down-db-0.1.0"
    folder.mkdir(parents=True)
    (folder / "driver.py").write_text(textwrap.dedent(DOWN_DRIVER))
    (folder / "metadata.json").write_text(json.dumps({
        "name": "down-db", "version": "0.1.0", "app": "down", "app_version_match": ">=0",
        "scope": "db", "entrypoint": "driver.py:DownDriver"}))
    svc = services.add(ServiceBase(
        name="down", scope="db", app="down", app_version="1", retries=2,
        locations={"node1": f"127.0.0.1:{free_port()}"},
        meta={"log": str(oca_home / "attempts.log")}))
    return svc.id


def finished(client, job_id: str, timeout: float = 15) -> dict:  # noqa: ANN001
    return wait_until(lambda: (j := client.get(f"/job/{job_id}").json())["status"]
                      in ("finished", "failed", "canceled") and j, timeout, f"job {job_id}")


def test_job_whose_backend_stays_down_fails_with_the_reason(client, down_id: str,  # noqa: ANN001
                                                            oca_home: Path) -> None:
    t = client.get(f"/db/{down_id}/table").json()
    job = finished(client, t["id"])
    assert job["status"] == "failed" and job["result"] is None
    assert job["error"]["type"] == "backend_unreachable"
    assert "is down" in job["error"]["message"] and "refused" in job["error"]["message"].lower()
    # retried with backoff: 1 try + the service's 2 retries, all in the one call path
    assert (oca_home / "attempts.log").read_text().count("attempt") == 3
    sync = client.get(f"/db/{down_id}/table?sync=true")
    assert sync.status_code == 503 and sync.json()["error"]["type"] == "backend_unreachable"
    # a non-idempotent operation is not retried
    (oca_home / "attempts.log").unlink()
    r = client.post(f"/db/{down_id}/table?sync=true",
                    json={"name": "t", "columns": [{"name": "a", "datatype": "int"}]})
    assert r.status_code == 503
    assert (oca_home / "attempts.log").read_text().count("attempt") == 1


def test_positions_and_cancel(oca_home: Path, echo_id: str, monkeypatch) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from oca.api.app import create_app

    monkeypatch.delenv("OCA_QUEUE_URL", raising=False)
    with TestClient(create_app(worker=False)) as c:  # nobody consumes: jobs stay queued
        tickets = [c.get(f"/db/{echo_id}/table").json() for _ in range(3)]
        assert [t["position"] for t in tickets] == [0, 1, 2]
        r = c.delete(f"/job/{tickets[1]['id']}")
        assert r.status_code == 200 and r.json()["status"] == "canceled"
        assert c.get(f"/job/{tickets[2]['id']}").json()["position"] == 1
        again = c.delete(f"/job/{tickets[1]['id']}")
        assert again.status_code == 409 and "canceled" in again.json()["status"]
        assert [j["id"] for j in c.get("/job/").json()] == [t["id"] for t in reversed(tickets)]


def test_queue_carries_json_and_uploads_are_files(oca_home: Path, scope_service) -> None:  # noqa: ANN001
    from oca import jobs

    sid = scope_service("ai")
    image = b"\xff\xd8\xff" + b"pixels" * 100
    t = jobs.enqueue(sid, "predict", {"img": image})
    rec = jobs.store().get(t["id"])
    stored = rec["params"]["img"]
    assert stored == {"$upload": f"{t['id']}-img"}
    assert (oca_home / "uploads" / stored["$upload"]).read_bytes() == image
    with sqlite3.connect(oca_home / "queue.db") as db:
        rows = db.execute("SELECT data FROM task").fetchall()
    assert rows, "the task is in huey's SQLite queue"
    for (data,) in rows:
        message = json.loads(data)  # JSON, not pickle
        assert t["id"] in json.dumps(message) and b"pixels" not in bytes(data)
    jobs.cancel(t["id"])
    assert not (oca_home / "uploads" / stored["$upload"]).exists()


def test_job_cli(oca, spawn, echo_id: str) -> None:  # noqa: ANN001
    from oca import jobs

    t = jobs.enqueue("echo", "ping", {})
    listed = oca("job", "ls", "--json")
    assert listed.code == 0 and [j["id"] for j in listed.json()] == [t["id"]]
    shown = oca("job", "show", t["id"], "--json").json()
    assert shown["status"] == "queued" and shown["position"] == 0 and shown["queue"] == "echo"
    r = oca("job", "wait", t["id"], "--timeout", "0.3")
    assert r.code == 5 and r.err.startswith("error: job ") and "still queued" in r.err
    assert oca("job", "show", "nosuch").code == 3
    w = spawn("worker")
    r = oca("job", "wait", t["id"], "--timeout", "30", "--json")
    assert r.code == 0, r.err + w.output()
    assert r.json()["status"] == "ok" and r.json()["hosts"] == ["127.0.0.1:5552"]
    r = oca("job", "cancel", t["id"])
    assert r.code == 4 and "finished" in r.err
    t2 = jobs.enqueue("echo", "describe_table", {"table": "nosuch"})
    r = oca("job", "wait", t2["id"], "--timeout", "30")
    assert r.code == 3 and "table" in r.err  # the job's own error, with its exit code


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_jobs_survive_a_worker_restart(backend: str, request, spawn, sqlite_id: str,  # noqa: ANN001
                                       monkeypatch) -> None:
    from oca import calls, jobs

    env = {}
    if backend == "redis":
        env["OCA_QUEUE_URL"] = request.getfixturevalue("redis_url")
        monkeypatch.setenv("OCA_QUEUE_URL", env["OCA_QUEUE_URL"])
    table = {"name": "t", "columns": [{"name": "id", "datatype": "int"},
                                      {"name": "v", "datatype": "text"}],
             "primary_key": ["id"]}
    w = spawn("worker", env=env)
    first = jobs.enqueue(sqlite_id, "create_table", table)
    assert jobs.wait(first["id"], timeout=30)["status"] == "finished", w.output()
    w.kill(signal.SIGKILL)

    second = jobs.enqueue(sqlite_id, "insert", {"table": "t",
                                                "field_values": {"id": 1, "v": "kept"}})
    time.sleep(0.5)
    assert jobs.get(second["id"])["status"] == "queued"  # nobody is consuming
    w2 = spawn("worker", env=env)
    job = jobs.wait(second["id"], timeout=30)
    assert job["status"] == "finished", (job, w2.output())
    assert calls.call(sqlite_id, "select", table="t") == [{"id": 1, "v": "kept"}]


SLOW_DRIVER = '''
import time

from oca.contract.db import DbDriver


class SlowDriver(DbDriver):
    backend = "sqlite"

    def ping(self):
        time.sleep(float(self.meta.get("sleep", 60)))
        return {"status": "ok"}
'''


@pytest.mark.slow
def test_job_of_a_killed_worker_ends_failed_not_stuck(oca_home: Path, spawn, echo_id: str,  # noqa: ANN001
                                                     monkeypatch) -> None:
    from oca import jobs, services
    from oca.models import ServiceBase

    monkeypatch.delenv("OCA_QUEUE_URL", raising=False)
    folder = oca_home / "drivers" / "slow-db-0.1.0"
    folder.mkdir(parents=True)
    (folder / "driver.py").write_text(textwrap.dedent(SLOW_DRIVER))
    (folder / "metadata.json").write_text(json.dumps({
        "name": "slow-db", "version": "0.1.0", "app": "slow", "app_version_match": ">=0",
        "scope": "db", "entrypoint": "driver.py:SlowDriver"}))
    slow = services.add(ServiceBase(name="slow", scope="db", app="slow", app_version="1",
                                    locations={"node1": "127.0.0.1:1"}))
    w = spawn("worker")
    t = jobs.enqueue(slow, "ping", {})
    wait_until(lambda: jobs.get(t["id"])["status"] == "started", 30, "the job to start")
    w.kill(signal.SIGKILL)
    assert jobs.get(t["id"])["status"] == "started"
    w2 = spawn("worker")
    job = wait_until(lambda: (j := jobs.get(t["id"]))["status"] != "started" and j, 30,
                     "the dead worker's job to be failed")
    assert job["status"] == "failed" and "worker running this job died" in \
        job["error"]["message"], job
    after = jobs.enqueue(echo_id, "ping", {})
    assert jobs.wait(after["id"], timeout=30)["status"] == "finished", w2.output()


def test_queue_down_is_503_and_sync_calls_still_work(oca_home: Path, echo_id: str,  # noqa: ANN001
                                                     scope_service, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from oca.api.app import create_app

    ai_id = scope_service("ai")
    monkeypatch.setenv("OCA_QUEUE_URL", f"redis://127.0.0.1:{free_port()}/0")
    with TestClient(create_app(worker=False)) as c:
        r = c.get(f"/db/{echo_id}/table")
        assert r.status_code == 503 and r.json()["error"]["type"] == "unavailable"
        assert "unreachable" in r.json()["status"]
        assert c.get(f"/db/{echo_id}/table?sync=true").status_code == 200
        assert c.get("/job/whatever").status_code == 503
        r = c.post(f"/ai/{ai_id}/predict", files={"image_file": ("a.jpg", b"\xff\xd8x")})
        assert r.status_code == 503
    assert list((oca_home / "uploads").glob("*")) == []  # the stored upload was removed
