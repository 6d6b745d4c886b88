"""Statement building, identifier rules and the type map, without any backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oca import sqlsafe
from oca.contract.db import BACKENDS, TYPES, coerce, native_to_portable, portable_type
from oca.errors import BadInput

ROOT = Path(__file__).resolve().parents[2]


def test_identifiers() -> None:
    assert sqlsafe.quote("users_2") == '"users_2"'
    assert sqlsafe.quote("_x") == '"_x"'
    for bad in ["", "a b", 'a"b', "a;b", "é", "1a", "a" * 64, "a-b", "a.b", None, 3]:
        with pytest.raises(BadInput):
            sqlsafe.quote(bad)  # type: ignore[arg-type]
    assert sqlsafe.quote("a" * 63)


def test_where_terms() -> None:
    terms, params = sqlsafe.where_terms(
        {"a": 1, "b": {">": 2, "<=": 5}, "c": None, "d": {"in": [1, 2]}, "e": {"!=": None},
         "f": {"gte": "x"}}, lambda: "?")
    assert terms == ['"a" = ?', '"b" > ?', '"b" <= ?', '"c" IS NULL', '"d" IN (?, ?)',
                     '"e" IS NOT NULL', '"f" >= ?']
    assert params == [1, 2, 5, 1, 2, "x"]
    for bad in [{"a": {"like": 1}}, {"a": {}}, {"a": {"in": []}}, {"a": {"in": 3}},
                {"a": {">": None}}, {"a": [1, 2]}, {"a b": 1}]:
        with pytest.raises(BadInput):
            sqlsafe.where_terms(bad, lambda: "?")


def test_statements() -> None:
    sql, params = sqlsafe.select_sql("t", ["a", "b"], {"a": 1, "b": {">": 2}}, ["a", "-b"],
                                     10, "%s")
    assert sql == ('SELECT "a", "b" FROM "t" WHERE "a" = %s AND "b" > %s '
                   'ORDER BY "a" ASC, "b" DESC LIMIT %s')
    assert params == [1, 2, 10]
    assert sqlsafe.insert_sql("t", ["a", "b"], "?", True) == \
        'INSERT INTO "t" ("a", "b") VALUES (?, ?) ON CONFLICT DO NOTHING'
    sql, params = sqlsafe.update_sql("t", {"a": 1}, {"k": 2, "j": 3}, {"c": 4}, "?")
    assert sql == 'UPDATE "t" SET "a" = ? WHERE "k" = ? AND "j" = ? AND "c" = ?'
    assert params == [1, 2, 3, 4]
    assert sqlsafe.delete_sql("t", None, None, "?") == ('DELETE FROM "t"', [])
    assert sqlsafe.create_table_sql("t", [("id", "integer"), ("n", "text")], ["id"]) == \
        'CREATE TABLE "t" ("id" integer, "n" text, PRIMARY KEY ("id"))'
    assert sqlsafe.parse_order("x:desc") == ("x", "DESC")
    with pytest.raises(BadInput):
        sqlsafe.parse_order("x:sideways")


def test_type_map_is_complete_and_reversible() -> None:
    for portable, natives in TYPES.items():
        assert set(natives) == set(BACKENDS), portable
    for backend in BACKENDS:
        rev = native_to_portable(backend)
        for portable, natives in TYPES.items():
            back = rev[natives[backend].lower()]
            assert back == portable or (backend == "cassandra" and portable == "json")
    assert portable_type("INTEGER") == "int" and portable_type("varchar") == "text"
    with pytest.raises(BadInput):
        portable_type("blob")
    doc = (ROOT / "docs" / "db.md").read_text()
    for portable, natives in TYPES.items():
        row = f"| `{portable}` | `{natives['sqlite']}` | `{natives['postgres']}` | " \
              f"`{natives['cassandra']}` |"
        assert row in doc, f"docs/db.md type map lacks: {row}"


def test_coerce() -> None:
    assert coerce(5, "int", "c") == 5
    assert coerce(5, "float", "c") == 5.0
    assert coerce("2024-01-01T00:00:00", "timestamp", "c").isoformat() == \
        "2024-01-01T00:00:00+00:00"
    assert coerce(None, "int", "c") is None
    assert coerce({"a": [1]}, "json", "c") == {"a": [1]}
    for value, ptype in [(True, "int"), (2**31, "int"), (2**63, "bigint"), ("1", "int"),
                         (1, "bool"), (1, "text"), ("a\x00b", "text"), ("nope", "timestamp"),
                         ("2024-13-01", "date"), ("xyz", "uuid"), (float("nan"), "float")]:
        with pytest.raises(BadInput):
            coerce(value, ptype, "c")


def test_read_records() -> None:
    import io

    from oca.scopes.db import read_records

    assert read_records(io.StringIO('{"a": 1}\n\n{"a": 2}\n')) == [{"a": 1}, {"a": 2}]
    with pytest.raises(BadInput, match="line 2"):
        read_records(io.StringIO('{"a": 1}\n[1]\n'))
    with pytest.raises(BadInput, match="line 1"):
        read_records(io.StringIO(json.dumps({"a": 1})[:-1]))
