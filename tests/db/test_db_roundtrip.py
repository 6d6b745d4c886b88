"""The same round trip through the real CLI against SQLite (embedded) and PostgreSQL (container)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_round_trip(run, backend, table: str, tmp_path: Path) -> None:
    r = run("db", "create-table", table, "--column", "id:int", "--column", "name:text",
            "--column", "age:int", "--column", "score:float", "--column", "active:bool",
            "--column", "seen:timestamp", "--primary-key", "id", "--json")
    assert r.code == 0, r.err
    assert r.json()["primary_key"] == ["id"]

    records = tmp_path / "records.jsonl"
    records.write_text("\n".join(json.dumps({
        "id": i, "name": f"user {i}", "age": i % 90, "score": i / 4, "active": i % 2 == 0,
        "seen": f"2024-01-{1 + i % 28:02d}T12:00:00Z"}) for i in range(1000)) + "\n")
    r = run("db", "insert", table, "--file", str(records), "--json")
    assert r.code == 0, r.err
    assert r.json() == {"count": 1000}

    r = run("db", "select", table, "--where", '{"age": {">=": 80, "<": 85}, "active": true}',
            "--order-by", "-id", "--limit", "5", "--fields", "id,age,active", "--json")
    assert r.code == 0, r.err
    rows = r.jsonl()
    expected = sorted((i for i in range(1000) if 80 <= i % 90 < 85 and i % 2 == 0),
                      reverse=True)[:5]
    assert [x["id"] for x in rows] == expected
    assert all(set(x) == {"id", "age", "active"} and x["active"] is True for x in rows)

    r = run("db", "select", table, "--where", '{"id": 7}', "--json")
    assert r.jsonl() == [{"id": 7, "name": "user 7", "age": 7, "score": 1.75, "active": False,
                          "seen": "2024-01-08T12:00:00+00:00"}]

    r = run("db", "update", table, "--set", '{"name": "seven", "score": 0.5}',
            "--where", '{"id": {"in": [7, 8]}}', "--json")
    assert r.code == 0, r.err
    assert r.json() == {"count": 2}
    r = run("db", "select", table, "--where", '{"name": "seven"}', "--order-by", "id", "--json")
    assert [(x["id"], x["score"]) for x in r.jsonl()] == [(7, 0.5), (8, 0.5)]

    r = run("db", "delete", table, "--where", '{"id": {"<": 100}}', "--json")
    assert r.json() == {"count": 100}
    r = run("db", "select", table, "--json")
    ids = [x["id"] for x in r.jsonl()]
    assert len(ids) == 900 and min(ids) == 100

    r = run("db", "describe", table, "--json")
    d = r.json()
    assert d["name"] == table and d["primary_key"] == ["id"]
    assert [(c["name"], c["datatype"]) for c in d["columns"]] == [
        ("id", "int"), ("name", "text"), ("age", "int"), ("score", "float"),
        ("active", "bool"), ("seen", "timestamp")]

    r = run("db", "tables", "--json")
    assert table in [t["name"] for t in r.json()]

    r = run("db", "delete", table, "--all", "--json")
    assert r.json() == {"count": 900}
    assert run("db", "select", table, "--json").out == ""


def test_plain_output_and_stdin(run, table: str) -> None:
    assert run("db", "create-table", table, "-c", "id:int", "-c", "note:text", "-k", "id").code == 0
    r = run("db", "insert", table, "-", input='{"id": 1, "note": "a\\tb"}\n\n{"id": 2}\n')
    assert r.code == 0, r.err
    assert r.out.strip() == "inserted 2 records"
    r = run("db", "select", table, "--order-by", "id")
    assert r.out.splitlines() == ["id\tnote", "1\ta b", "2\t"]


def test_bulk_insert_with_one_bad_row_writes_nothing(run, table: str) -> None:
    assert run("db", "create-table", table, "-c", "id:int", "-c", "name:text", "-k", "id").code == 0
    assert run("db", "insert", table, "--values", '{"id": 0, "name": "keep"}').code == 0
    # a bad type in the middle: refused before anything is sent
    rows = [{"id": i, "name": f"n{i}"} for i in range(1, 500)]
    rows[250]["id"] = "two hundred fifty"
    r = run("db", "insert", table, "--values", json.dumps(rows))
    assert r.code == 6 and "record 251" in r.err and "nothing was written" in r.err
    # a key clash inside the batch: only the backend sees it; the transaction rolls back
    rows = [{"id": i, "name": f"n{i}"} for i in range(1, 500)] + [{"id": 3, "name": "dup"}]
    r = run("db", "insert", table, "--values", json.dumps(rows))
    assert r.code == 4, r.err
    assert "nothing was written" in r.err
    # a bad JSON line in a file
    r = run("db", "insert", table, "-", input='{"id": 600}\n{"id": 601,\n')
    assert r.code == 6 and "line 2" in r.err
    r = run("db", "select", table, "--json")
    assert r.jsonl() == [{"id": 0, "name": "keep"}]
    # if-not-exists skips the clash and writes the rest
    r = run("db", "insert", table, "--values", json.dumps(rows), "--if-not-exists", "--json")
    assert r.code == 0 and r.json() == {"count": 499}


def test_options_the_backend_cannot_honour_are_refused(run, backend, table: str) -> None:
    from oca.errors import BadInput
    from oca.scopes import db

    assert run("db", "create-table", table, "-c", "id:int", "-k", "id").code == 0
    r = run("db", "insert", table, "--values", '{"id": 1}', "--ttl", "60")
    assert r.code == 6 and r.err.startswith("error: ") and "cannot honour ttl" in r.err
    svc = backend.service
    for call in (lambda: db.insert(table, {"id": 1}, timestamp=1700000000000000, service=svc),
                 lambda: db.update(table, {"id": 2}, {"id": 1}, ttl=5, service=svc),
                 lambda: db.delete(table, {"id": 1}, timestamp=5, service=svc)):
        with pytest.raises(BadInput, match="cannot honour"):
            call()
    assert db.select(table, service=svc) == []


def test_errors_and_exit_codes(run, backend, table: str) -> None:
    from oca.errors import BadInput
    from oca.scopes import db

    assert run("db", "create-table", table, "-c", "id:int", "-c", "n:int", "-k", "id").code == 0
    r = run("db", "create-table", table, "-c", "id:int")
    assert r.code == 4 and "already exists" in r.err
    r = run("db", "select", "no_such_table")
    assert r.code == 3 and r.err.startswith("error: table not found")
    assert run("db", "insert", table, "--values", '{"id": 1, "n": 1}').code == 0
    r = run("db", "insert", table, "--values", '{"id": 1, "n": 2}')
    assert r.code == 4 and "hint:" in r.err
    r = run("db", "select", table, "--where", '{"missing": 1}', "--json")
    assert r.code == 6 and r.json()["error"]["type"] == "invalid_input"
    # the same core without the process start: every one of these is invalid input
    svc = backend.service
    cases = [
        lambda: db.describe("no_such_table", service=svc),  # NotFound, checked below
        lambda: db.update(table, {}, {"id": 1}, service=svc),
        lambda: db.update(table, {"n": 1}, {}, service=svc),
        lambda: db.delete(table, service=svc),
        lambda: db.delete(table, {"id": 1}, all=True, service=svc),
        lambda: db.select(table, where={"id": {"~": 1}}, service=svc),
        lambda: db.select(table, fields=["id", "missing"], service=svc),
        lambda: db.select(table, order_by="missing", service=svc),
        lambda: db.insert(table, {"id": 2.5}, service=svc),
        lambda: db.insert(table, {"id": 99999999999}, service=svc),
        lambda: db.insert(table, {"id": 3, "nope": 1}, service=svc),
        lambda: db.insert(table, {"id": 3}, exist_condition="if_exist", service=svc),
        lambda: db.update(table, {"n": 1}, {"id": 1}, exist_condition="if_not_exist",
                          service=svc),
        lambda: db.create_table("t2_" + table, [{"name": "id", "datatype": "varbinary"}],
                                service=svc),
        lambda: db.create_table("t4_" + table, ["id:int"], ["nope"], service=svc),
        lambda: db.create_table("t5_" + table, ["id:int", "ID:int"], service=svc),
    ]
    from oca.errors import NotFound

    with pytest.raises(NotFound):
        cases[0]()
    for i, call in enumerate(cases[1:], start=1):
        with pytest.raises(BadInput):
            call()
            pytest.fail(f"case {i} was accepted")
    assert db.select(table, service=svc) == [{"id": 1, "n": 1}]


def test_cli_input_errors(oca, table: str) -> None:
    assert oca("db", "create-table", table, "-c", "id:int", "-k", "id").code == 0
    for args in [
        ("delete", table),                                           # no --where, no --all
        ("delete", table, "--where", '{"id": 1}', "--all"),
        ("select", table, "--where", "{not json"),
        ("insert", table, "--values", "[1, 2]"),
        ("insert", table),
        ("insert", table, "--values", "{}", "-"),
        ("create-table", "t3_" + table, "-c", "id"),
    ]:
        r = oca("db", *args)
        assert r.code == 6, (args, r.code, r.err)
        assert r.err.startswith("error: ") and "Traceback" not in r.err, (args, r.err)


def test_types_round_trip(run, backend, table: str) -> None:
    cols = ["id:int", "big:bigint", "f:float", "t:text", "b:bool", "ts:timestamp", "d:date",
            "u:uuid", "j:json"]
    assert run("db", "create-table", table, *[a for c in cols for a in ("-c", c)],
               "-k", "id").code == 0
    rec = {"id": 1, "big": 2**62, "f": 1.5, "t": "héllo ✓", "b": False,
           "ts": "2024-05-06T07:08:09.123456+02:00", "d": "2024-02-29",
           "u": "12345678-1234-5678-1234-567812345678", "j": {"k": [1, "two", None]}}
    r = run("db", "insert", table, "--values", json.dumps(rec))
    assert r.code == 0, r.err
    r = run("db", "select", table, "--json")
    assert r.jsonl() == [{**rec, "ts": "2024-05-06T05:08:09.123456+00:00"}]
    r = run("db", "select", table, "--where", '{"ts": {">": "2024-05-06T05:00:00Z"}}', "--json")
    assert len(r.jsonl()) == 1
    r = run("db", "select", table, "--where", '{"b": false, "d": "2024-02-29"}', "--json")
    assert len(r.jsonl()) == 1
    r = run("db", "insert", table, "--values", '{"id": 2, "b": 1}')
    assert r.code == 6 and "bool" in r.err


def test_embedded_default_is_registered(oca, oca_home: Path) -> None:
    r = oca("db", "tables", "--json")
    assert r.code == 0 and r.json() == []
    svc = oca("service", "show", "db-default", "--json").json()
    assert svc["runtime"] == "embedded" and svc["driver"].startswith("sqlite-")
    assert svc["app"] == "sqlite"
    assert Path(svc["locations"]["path"]) == oca_home / "db" / "default.sqlite"
    assert (oca_home / "db" / "default.sqlite").is_file()
