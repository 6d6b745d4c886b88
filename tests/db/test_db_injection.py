"""Hostile identifiers are refused (exit 6), hostile values are stored literally; nothing runs.

Each test keeps a `victim` table with rows and checks it is intact afterwards.
"""

from __future__ import annotations

import json

import pytest

from oca.errors import BadInput
from oca.scopes import db

HOSTILE_NAMES = [
    "x; DROP TABLE victim",
    'x"; DROP TABLE victim; --',
    "x'; DROP TABLE victim; --",
    "victim--",
    "a b",
    "tablé",
    "表",
    "ǅungle",
    "a" * 300,
    "1abc",
    "",
    "x\x00y",
    "victim)",
    "%s",
    "?",
]
HOSTILE_VALUES = [
    "'); DROP TABLE victim; --",
    "Robert'); DROP TABLE Students;--",
    '"; DELETE FROM victim; --',
    "' OR '1'='1",
    "%s %(x)s ?",
    "\\'; --",
    "é ✓ 表 \U0001f600",
    "a" * 5000,
]


@pytest.fixture
def victim(backend, suffix: str) -> str:
    name = f"victim_{suffix}"
    db.create_table(name, ["id:int", "v:text"], ["id"], service=backend.service)
    db.insert(name, [{"id": i, "v": f"row {i}"} for i in range(3)], service=backend.service)
    return name


def _intact(name: str, service: str | None) -> None:
    assert db.select(name, order_by="id", service=service) == [
        {"id": i, "v": f"row {i}"} for i in range(3)]
    assert name in [t["name"] for t in db.tables(service)]


def test_hostile_table_names_are_refused(backend, victim: str) -> None:
    svc = backend.service
    for name in HOSTILE_NAMES:
        calls = [
            lambda n=name: db.create_table(n, ["id:int"], service=svc),
            lambda n=name: db.select(n, service=svc),
            lambda n=name: db.describe(n, service=svc),
            lambda n=name: db.insert(n, {"id": 1}, service=svc),
            lambda n=name: db.update(n, {"id": 1}, {"id": 1}, service=svc),
            lambda n=name: db.delete(n, all=True, service=svc),
        ]
        for call in calls:
            with pytest.raises(BadInput):
                call()
    _intact(victim, svc)


def test_hostile_column_names_are_refused(backend, victim: str, suffix: str) -> None:
    svc = backend.service
    for name in HOSTILE_NAMES:
        with pytest.raises(BadInput):
            db.create_table(f"c_{suffix}", ["id:int", f"{name}:text"], service=svc)
        with pytest.raises(BadInput):
            db.select(victim, fields=["id", name], service=svc)
        with pytest.raises(BadInput):
            db.select(victim, where={name: 1}, service=svc)
        with pytest.raises(BadInput):
            db.select(victim, order_by=[name], service=svc)
        with pytest.raises(BadInput):
            db.insert(victim, {"id": 9, name: "x"}, service=svc)
        with pytest.raises(BadInput):
            db.update(victim, {name: "x"}, {"id": 1}, service=svc)
        with pytest.raises(BadInput):
            db.delete(victim, {name: 1}, service=svc)
    for op in ("; DROP TABLE victim", "= 1 OR 1=1 --", "in (select 1)"):
        with pytest.raises(BadInput):
            db.select(victim, where={"id": {op: 1}}, service=svc)
    with pytest.raises(BadInput):
        db.select(victim, order_by=["id; DROP TABLE victim"], service=svc)
    assert f"c_{suffix}" not in [t["name"] for t in db.tables(svc)]
    _intact(victim, svc)


def test_hostile_values_are_stored_literally(backend, victim: str, suffix: str) -> None:
    svc = backend.service
    t = f"vals_{suffix}"
    db.create_table(t, ["id:int", "v:text"], ["id"], service=svc)
    db.insert(t, [{"id": i, "v": v} for i, v in enumerate(HOSTILE_VALUES)], service=svc)
    rows = db.select(t, order_by="id", service=svc)
    assert [r["v"] for r in rows] == HOSTILE_VALUES
    for i, v in enumerate(HOSTILE_VALUES):
        assert db.select(t, where={"v": v}, service=svc) == [{"id": i, "v": v}]
    assert db.select(t, where={"v": {"in": HOSTILE_VALUES[:2]}}, fields=["id"],
                     order_by="id", service=svc) == [{"id": 0}, {"id": 1}]
    assert db.update(t, {"v": "'; DROP TABLE victim; --"}, {"v": "' OR '1'='1"},
                     service=svc) == {"count": 1}
    assert db.delete(t, {"v": "' OR '1'='1"}, service=svc) == {"count": 0}
    _intact(victim, svc)


def test_hostile_names_through_the_cli(run, backend, victim: str) -> None:
    for name in ("x; DROP TABLE " + victim, "a" * 300, "tablé"):
        r = run("db", "create-table", name, "--column", "id:int")
        assert r.code == 6, r.err
        assert r.err.startswith("error: invalid table name")
        r = run("db", "select", victim, "--fields", f"id,{name}")
        assert r.code == 6
    r = run("db", "insert", victim, "--values",
            json.dumps({"id": 5, "v": f"'); DROP TABLE {victim}; --"}))
    assert r.code == 0
    r = run("db", "select", victim, "--where", '{"id": 5}', "--json")
    assert r.jsonl() == [{"id": 5, "v": f"'); DROP TABLE {victim}; --"}]
    r = run("db", "delete", victim, "--where", '{"id": 5}')
    assert r.code == 0
    _intact(victim, backend.service)
