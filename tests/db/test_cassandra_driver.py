"""The cassandra driver: the CQL it builds (no server needed), and, when a server is given in
OCA_TEST_CASSANDRA=host:port, the same operations against it.

No Cassandra server can be obtained on this machine kind (no registry, no Debian package), so
the integration part skips with that reason when the variable is unset.
"""

from __future__ import annotations

import os
import sys
import uuid

import pytest

from oca import discovery
from oca.contract.db import DQL, RecordDMLOptions, Table
from oca.errors import BadInput


@pytest.fixture(scope="module")
def cql():  # noqa: ANN201 - the driver module
    meta = discovery.get_driver("datastax-cassandra-driver")
    assert (meta.app, meta.app_version_match, meta.scope) == ("cassandra", ">=3.1.1", "db")
    assert meta.meta["keyspace"] == "oca_ks"
    assert meta.meta["replication"] == {"class": "SimpleStrategy", "replication_factor": 1}
    cls = discovery.load_driver_class(meta)
    return sys.modules[cls.__module__]


def dml(**kw) -> RecordDMLOptions:  # noqa: ANN003
    return RecordDMLOptions(**kw)


def test_insert_cql(cql) -> None:
    assert cql.cql_insert("users", ["id", "name"], dml()) == (
        'INSERT INTO "users" ("id", "name") VALUES (?, ?)', [])
    assert cql.cql_insert("users", ["id"], dml(ttl=60, timestamp=1700000000000000,
                                               exist_condition="if_not_exist")) == (
        'INSERT INTO "users" ("id") VALUES (?) IF NOT EXISTS USING TTL ? AND TIMESTAMP ?',
        [60, 1700000000000000])
    assert cql.cql_insert("users", ["id"], dml(timestamp=5))[0].endswith(
        "VALUES (?) USING TIMESTAMP ?")


def test_update_cql(cql) -> None:
    s, p = cql.cql_update("users", dml(field_values={"name": "x'); DROP TABLE y; --", "age": 3},
                                       where={"id": 1, "org": "a"}))
    assert s == 'UPDATE "users" SET "name" = ?, "age" = ? WHERE "id" = ? AND "org" = ?'
    assert p == ["x'); DROP TABLE y; --", 3, 1, "a"]  # values bound, never in the text
    s, p = cql.cql_update("users", dml(field_values={"name": "n"}, where={"id": 1}, ttl=10,
                                       timestamp=7, exist_condition="if_exist"))
    assert s == 'UPDATE "users" USING TTL ? AND TIMESTAMP ? SET "name" = ? WHERE "id" = ? IF EXISTS'
    assert p == [10, 7, "n", 1]
    s, p = cql.cql_update("users", dml(field_values={"name": "n"}, where={"id": 1},
                                       field_conditions={"name": "old", "age": {">": 3},
                                                         "gone": None}))
    assert s == ('UPDATE "users" SET "name" = ? WHERE "id" = ? '
                 'IF "name" = ? AND "age" > ? AND "gone" = ?')
    assert p == ["n", 1, "old", 3, None]


def test_delete_cql(cql) -> None:
    s, p = cql.cql_delete("users", dml(where={"id": {"in": [1, 2]}, "org": "a"}, timestamp=9))
    assert s == 'DELETE FROM "users" USING TIMESTAMP ? WHERE "id" IN (?, ?) AND "org" = ?'
    assert p == [9, 1, 2, "a"]
    s, _ = cql.cql_delete("users", dml(where={"id": 1}, exist_condition="if_exist"))
    assert s == 'DELETE FROM "users" WHERE "id" = ? IF EXISTS'
    assert cql.cql_delete("users", dml(all=True)) == ('TRUNCATE "users"', [])
    with pytest.raises(BadInput):
        cql.cql_delete("users", dml(all=True, timestamp=1))


def test_select_and_create_cql(cql) -> None:
    s, p = cql.cql_select("users", DQL(fields=["id", "name"], where={"id": 1, "ts": {">=": 5}},
                                       order_by=["-ts"], limit=10, allow_filtering=True))
    assert s == ('SELECT "id", "name" FROM "users" WHERE "id" = ? AND "ts" >= ? '
                 'ORDER BY "ts" DESC LIMIT ? ALLOW FILTERING')
    assert p == [1, 5, 10]
    assert cql.cql_select("users", DQL()) == ('SELECT * FROM "users"', [])
    with pytest.raises(BadInput):
        cql.cql_select("users", DQL(where={"id": None}))
    t = Table(name="users", columns=[{"name": "id", "datatype": "int"},
                                     {"name": "doc", "datatype": "json"},
                                     {"name": "at", "datatype": "timestamp"}],
              primary_key=["id", "at"])
    assert cql.cql_create_table(t) == (
        'CREATE TABLE "users" ("id" int, "doc" text, "at" timestamp, PRIMARY KEY ("id", "at"))')
    with pytest.raises(BadInput, match="primary key"):
        cql.cql_create_table(Table(name="t", columns=[{"name": "id", "datatype": "int"}]))


def test_keyspace_and_identifiers(cql) -> None:
    assert cql.cql_create_keyspace("oca_ks", cql.DEFAULT_REPLICATION) == (
        "CREATE KEYSPACE IF NOT EXISTS \"oca_ks\" WITH replication = "
        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
    assert cql.cql_create_keyspace("k", {"class": "NetworkTopologyStrategy", "dc1": 3}) \
        .endswith("{'class': 'NetworkTopologyStrategy', 'dc1': 3}")
    for bad in [{"class": "x'}; DROP KEYSPACE a; --"}, {"class": "S", "dc1": "3; DROP"},
                {"class": "S", "x y": 1}, {"replication_factor": 1}]:
        with pytest.raises(BadInput):
            cql.cql_create_keyspace("k", bad)
    with pytest.raises(BadInput):
        cql.cql_create_keyspace("k; DROP KEYSPACE x", cql.DEFAULT_REPLICATION)
    for name in ["x; DROP TABLE y", 'a"b', "tablé", "a" * 49]:
        with pytest.raises(BadInput):
            cql.cql_insert(name, ["id"], dml())
        if len(name) < 49:  # columns may be longer than table names (48)
            with pytest.raises(BadInput):
                cql.cql_select("t", DQL(fields=[name]))
    with pytest.raises(BadInput):
        cql.CassandraDriver(["127.0.0.1:9042"], {"keyspace": "ks; DROP"})


def test_options_validated_before_any_connection(cql) -> None:
    # No server: the contract's checks run first, so bad options never reach the network.
    d = cql.CassandraDriver(["127.0.0.1:1"], {})
    with pytest.raises(BadInput):
        d.insert("t", field_values={"id": 1}, exist_condition="if_exist")
    with pytest.raises(BadInput):
        d.update("t", field_values={"a": 1}, where={"id": 1}, exist_condition="if_exist",
                 field_conditions={"a": 2})
    with pytest.raises(BadInput):
        d.delete("t", where={"id": 1}, ttl=5)
    with pytest.raises(BadInput):
        d.delete("t")
    assert d.contact_points == ["127.0.0.1"] and d.port == 1
    assert d.capabilities["ttl"] and d.capabilities["timestamp"]


CASSANDRA = os.environ.get("OCA_TEST_CASSANDRA")
needs_server = pytest.mark.skipif(
    not CASSANDRA,
    reason="no Cassandra server can be obtained on this machine (no registry, no package); "
           "set OCA_TEST_CASSANDRA=host:port to run against one")


@needs_server
def test_round_trip_against_a_server(oca) -> None:
    name = f"cas{uuid.uuid4().hex[:8]}"
    table = f"t_{uuid.uuid4().hex[:8]}"
    r = oca("service", "add", name, "--scope", "db", "--app", "cassandra",
            "--app-version", "4.1.0", "--location", CASSANDRA, "--json")
    assert r.code == 0, r.err
    assert r.json()["driver"].startswith("datastax-cassandra-driver-")

    def db(*args: str):  # noqa: ANN202
        return oca("db", *args, "--service", name)

    assert db("create-table", table, "-c", "id:int", "-c", "name:text", "-c", "n:int",
              "-k", "id").code == 0
    rows = [{"id": i, "name": f"u{i}", "n": i % 7} for i in range(200)]
    import json

    r = db("insert", table, "--values", json.dumps(rows), "--json")
    assert r.code == 0 and r.json() == {"count": 200}, r.err
    r = db("select", table, "--where", '{"id": 5}', "--json")
    assert r.jsonl() == [{"id": 5, "name": "u5", "n": 5}]
    r = db("select", table, "--where", '{"n": 3}', "--allow-filtering", "--json")
    assert sorted(x["id"] for x in r.jsonl()) == [i for i in range(200) if i % 7 == 3]
    r = db("insert", table, "--values", '{"id": 5, "name": "dup"}', "--if-not-exists", "--json")
    assert r.json() == {"count": 0, "applied": False}
    r = db("update", table, "--set", '{"name": "x"}', "--where", '{"id": 5}',
           "--if", '{"name": "u5"}', "--json")
    assert r.json() == {"applied": True}
    r = db("insert", table, "--values", '{"id": 1000, "name": "ttl"}', "--ttl", "1")
    assert r.code == 0
    r = db("update", table, "--set", '{"name": "y"}', "--where", '{"id": 6, "n": 6}')
    assert r.code == 6  # n is not part of the key: the server refuses, exit 6
    r = db("delete", table, "--where", '{"id": {"in": [1, 2]}}', "--json")
    assert r.code == 0
    r = db("select", table, "--where", '{"id": {"in": [1, 2, 3]}}', "--json")
    assert [x["id"] for x in r.jsonl()] == [3]
    r = db("describe", table, "--json")
    assert r.json()["primary_key"] == ["id"]
    import time

    time.sleep(1.5)
    r = db("select", table, "--where", '{"id": 1000}', "--json")
    assert r.jsonl() == []  # expired by its TTL
    r = db("insert", table, "--values", '[{"id": 1}, {"id": "bad"}]')
    assert r.code == 6
    assert db("select", table, "--where", '{"id": 1}', "--json").jsonl() == []
    assert db("delete", table, "--all").code == 0


# --- The driver's glue around the DataStax session, on a FAKE session ---------------------
# No Cassandra server exists here, so these tests replace only the network session (named
# Fake* below): the driver's own code, the contract checks, and the real `cassandra`
# exception classes are used as is. The integration test above covers a real server.


class FakeColumn:
    def __init__(self, name: str, cql_type: str) -> None:
        self.name, self.cql_type = name, cql_type


class FakeTable:
    def __init__(self, columns: dict[str, str], key: list[str]) -> None:
        self.columns = {n: FakeColumn(n, t) for n, t in columns.items()}
        self.primary_key = [self.columns[k] for k in key]


class FakeCluster:
    def __init__(self, tables: dict) -> None:  # noqa: ANN001
        ks = type("KS", (), {"tables": tables})()
        self.metadata = type("M", (), {"keyspaces": {"oca_ks": ks}})()

    def refresh_table_metadata(self, keyspace: str, table: str) -> None:
        pass

    def refresh_schema_metadata(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


class FakeResult(list):
    def one(self):  # noqa: ANN201
        return self[0] if self else None


class FakeSession:
    def __init__(self) -> None:
        self.log: list[tuple[str, list]] = []
        self.answer: list[dict] = []
        self.fail: Exception | None = None

    def prepare(self, cql: str):  # noqa: ANN201
        if cql.startswith("INSERT"):  # a real PreparedStatement, so a real batch can bind it
            import re

            from cassandra.cqltypes import BooleanType, DateType, Int32Type, LongType, UTF8Type
            from cassandra.metadata import Metadata
            from cassandra.protocol import ColumnMetadata
            from cassandra.query import PreparedStatement

            kinds = {"int": Int32Type, "text": UTF8Type, "timestamp": DateType,
                     "boolean": BooleanType}
            cols = re.search(r'\(([^)]*)\) VALUES', cql).group(1).replace('"', "").split(", ")
            meta = [ColumnMetadata("oca_ks", "users", c, kinds[self.types[c]]) for c in cols]
            if "TTL ?" in cql:
                meta.append(ColumnMetadata("oca_ks", "users", "[ttl]", Int32Type))
            if "TIMESTAMP ?" in cql:
                meta.append(ColumnMetadata("oca_ks", "users", "[timestamp]", LongType))
            return PreparedStatement.from_message(b"q", meta, [], Metadata(), cql, "oca_ks", 4,
                                                  [], None, None)
        return type("Prepared", (), {"query_string": cql, "fetch_size": None})()

    def execute(self, stmt, params=None):  # noqa: ANN001, ANN201
        if self.fail:
            raise self.fail
        from cassandra.query import BatchStatement

        if isinstance(stmt, BatchStatement):
            self.log.append(("BATCH", [(stmt.batch_type.name, len(stmt))]))
        else:
            self.log.append((getattr(stmt, "query_string", stmt), list(params or [])))
        return FakeResult(self.answer)


@pytest.fixture
def fake(cql):  # noqa: ANN001, ANN201
    d = cql.CassandraDriver(["10.0.0.1:9042", "10.0.0.2:9043"], {})
    d._cluster = FakeCluster({"users": FakeTable(
        {"id": "int", "name": "text", "doc": "text", "at": "timestamp"}, ["id"])})
    d._session = FakeSession()
    d._session.types = {"id": "int", "name": "text", "doc": "text", "at": "timestamp"}
    return d


def test_glue_statements_and_parameters(fake) -> None:
    s = fake._session
    assert (fake.contact_points, fake.port) == (["10.0.0.1", "10.0.0.2"], 9043)
    assert fake.insert("users", field_values={"id": 1, "name": "a'; DROP", "at":
                                              "2024-01-01T00:00:00Z"}, ttl=30) == {"count": 1}
    cql_text, params = s.log[-1]
    assert cql_text == 'INSERT INTO "users" ("id", "name", "at") VALUES (?, ?, ?) USING TTL ?'
    assert params[:2] == [1, "a'; DROP"] and params[3] == 30
    assert params[2].isoformat() == "2024-01-01T00:00:00+00:00"

    s.answer = [{"[applied]": False, "id": 1, "name": "x"}]
    assert fake.insert("users", field_values={"id": 1}, exist_condition="if_not_exist") == \
        {"count": 0, "applied": False}
    s.answer = [{"[applied]": True}]
    assert fake.update("users", field_values={"name": "b"}, where={"id": 1},
                       field_conditions={"name": "a"}, timestamp=9) == {"applied": True}
    assert s.log[-1] == ('UPDATE "users" USING TIMESTAMP ? SET "name" = ? WHERE "id" = ? '
                         'IF "name" = ?', [9, "b", 1, "a"])
    s.answer = []
    assert fake.delete("users", where={"id": 1}) == {"applied": True}
    assert fake.delete("users", all=True) == {"applied": True}
    assert s.log[-1][0] == 'TRUNCATE "users"'

    s.answer = [{"id": 1, "name": "a", "doc": None,
                 "at": __import__("datetime").datetime(2024, 1, 1, 12, 0)}]
    rows = fake.select("users", {"where": {"id": 1}, "fields": ["id", "name", "at"]})
    assert rows == [{"id": 1, "name": "a", "doc": None, "at": "2024-01-01T12:00:00+00:00"}]
    assert s.log[-1] == ('SELECT "id", "name", "at" FROM "users" WHERE "id" = ?', [1])
    d = fake.describe_table("users")
    assert d["primary_key"] == ["id"]
    assert [(c["name"], c["datatype"]) for c in d["columns"]][:2] == [("id", "int"),
                                                                       ("name", "text")]


def test_glue_errors_map_to_exit_codes(fake) -> None:
    from cassandra import AlreadyExists, InvalidRequest, OperationTimedOut
    from cassandra.cluster import NoHostAvailable

    from oca.errors import BackendUnreachable, Conflict, NotFound, Timeout

    s = fake._session
    with pytest.raises(NotFound):
        fake.select("ghost")  # not in the metadata: refused before any statement
    with pytest.raises(BadInput, match="no column"):
        fake.insert("users", field_values={"id": 1, "nope": 2})
    with pytest.raises(BadInput):
        fake.insert("users", field_values={"id": "1"})
    n = len(s.log)
    for exc, err in [(InvalidRequest("unconfigured table users"), NotFound),
                     (InvalidRequest("Cannot execute this query as it might involve data "
                                     "filtering"), BadInput),
                     (AlreadyExists(keyspace="oca_ks", table="users"), Conflict),
                     (OperationTimedOut("timed out"), Timeout),
                     (NoHostAvailable("none", {}), BackendUnreachable)]:
        s.fail = exc
        with pytest.raises(err):
            fake.select("users", {"where": {"name": "a"}})
    assert len(s.log) == n  # nothing reached the fake after the refusals


def test_glue_bulk_insert_is_one_logged_batch(fake) -> None:
    s = fake._session
    rows = [{"id": i, "name": f"n{i}", "doc": '{"k": 1}'} for i in range(50)]
    assert fake.insert("users", field_values=rows, ttl=60, timestamp=7) == {"count": 50}
    assert s.log[-1] == ("BATCH", [("LOGGED", 50)])
    n = len(s.log)
    rows[25]["id"] = "x"
    with pytest.raises(BadInput, match="record 26.*nothing was written"):
        fake.insert("users", field_values=rows)
    assert len(s.log) == n
