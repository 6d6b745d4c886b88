"""Unreachable backends, lost connections, concurrent processes, secrets kept out of errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("app", ["postgres", "cassandra"])
def test_unreachable_backend_is_exit_5_without_secrets(oca, app: str) -> None:
    r = oca("service", "add", "down", "--scope", "db", "--app", app, "--app-version", "15",
            "--location", "127.0.0.1:1",
            "--meta", json.dumps({"user": "bob", "password": "s3cr3t-pw", "username": "bob"}))
    assert r.code == 0, r.err
    for args in (["tables"], ["select", "t"], ["insert", "t", "--values", '{"id": 1}']):
        r = oca("-v", "db", *args, "--service", "down", timeout=60)
        assert r.code == 5, (args, r.err)
        assert r.err.startswith("error: ") and "unreachable" in r.err
        assert "s3cr3t-pw" not in r.err + r.out
    r = oca("--json", "db", "tables", "--service", "down")
    assert r.json()["error"]["type"] == "backend_unreachable"
    assert "s3cr3t-pw" not in r.out


def test_postgres_connection_lost_is_recovered(pg_backend, monkeypatch, suffix: str) -> None:
    import psycopg

    from oca.scopes import db

    monkeypatch.setenv("OCA_HOME", str(pg_backend.home))
    t = f"lost_{suffix}"
    db.create_table(t, ["id:int"], ["id"], service=pg_backend.name)
    db.insert(t, [{"id": 1}, {"id": 2}], service=pg_backend.name)
    host, _, port = pg_backend.location.rpartition(":")
    with psycopg.connect(host=host, port=int(port), user="postgres", autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'oca' AND pid <> pg_backend_pid()").fetchone()[0]
    assert killed >= 1
    # the kept-open connection is dead: the select reconnects (an idempotent call is retried)
    assert db.select(t, order_by="id", service=pg_backend.name) == [{"id": 1}, {"id": 2}]


def _spawn(home: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "oca", *args], cwd=ROOT,
                            env={**os.environ, "OCA_HOME": str(home)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_first_use_and_writers_on_the_default(oca, oca_home: Path) -> None:
    procs = [_spawn(oca_home, "db", "tables") for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    services = oca("--json", "service", "ls").json()
    assert [s["name"] for s in services] == ["db-default"]

    assert oca("db", "create-table", "c", "-c", "id:int", "-c", "w:int", "-k", "id").code == 0
    procs = []
    for w in range(4):
        rows = [{"id": w * 1000 + i, "w": w} for i in range(250)]
        procs.append(_spawn(oca_home, "db", "insert", "c", "--values", json.dumps(rows)))
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert out.strip() == "inserted 250 records"
    r = oca("db", "select", "c", "--json")
    rows = r.jsonl()
    assert len(rows) == 1000 and {x["w"] for x in rows} == {0, 1, 2, 3}


def test_select_stops_when_the_reader_goes_away(oca, oca_home: Path) -> None:
    assert oca("db", "create-table", "big", "-c", "id:int", "-k", "id").code == 0
    rows = "\n".join(json.dumps({"id": i}) for i in range(50_000))
    assert oca("db", "insert", "big", "-", input=rows).code == 0
    for extra in (["--json"], []):  # like `oca db select big --json | head -1`
        p = _spawn(oca_home, "db", "select", "big", *extra)
        first = p.stdout.readline()
        p.stdout.close()
        p.wait(timeout=60)
        assert first.strip() in ('{"id":0}', "id")
        assert p.returncode == 0, p.stderr.read()
        assert p.stderr.read() == ""
