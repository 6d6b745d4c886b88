"""The cassandra driver: Apache Cassandra through DataStax `cassandra-driver`, in-process.

Upstream's driver name, app and defaults (keyspace `oca_ks`, SimpleStrategy, replication
factor 1, created when missing), without upstream's bugs: identifiers are validated and
quoted, values are bound to prepared statements, WHERE terms are joined with AND, and the
options are honoured: ttl → USING TTL, timestamp → USING TIMESTAMP, exist_condition →
IF [NOT] EXISTS, field_conditions → IF c = ? AND ....

The statement builders (`cql_*`) are plain functions of this module and need no server;
`cassandra` itself is imported only when a connection is made.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from oca import sqlsafe
from oca.contract.db import (
    DQL,
    TYPES,
    DbDriver,
    RecordDMLOptions,
    Table,
    jsonable,
    native_to_portable,
    nothing_written,
)
from oca.errors import BackendUnreachable, BadInput, Conflict, NotFound, OcaError, Timeout

NATIVE = native_to_portable("cassandra")
MAX_NAME = 48  # Cassandra's limit for keyspace and table names
DEFAULT_KEYSPACE = "oca_ks"
DEFAULT_REPLICATION = {"class": "SimpleStrategy", "replication_factor": 1}
_CLASS_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.]{0,127}")


def _q(name: str, what: str = "column name") -> str:
    return sqlsafe.quote(name, what, MAX_NAME if "table" in what or "keyspace" in what
                         else sqlsafe.MAX_IDENT)


def _terms(where: dict[str, Any] | None, what: str) -> tuple[list[str], list[Any]]:
    for col, cond in (where or {}).items():
        nulls = cond is None or (isinstance(cond, dict) and any(v is None for v in cond.values()))
        if nulls and what == "where":
            raise BadInput(f"cassandra cannot select on null ({col!r} in where)")
    if what == "if":
        terms: list[str] = []
        params: list[Any] = []
        for col, cond in (where or {}).items():
            items = cond.items() if isinstance(cond, dict) else [("=", cond)]
            for op, value in items:
                if value is None:  # CQL conditions compare with null using = / !=
                    op_sql = sqlsafe.OPERATORS.get(str(op).lower())
                    if op_sql not in ("=", "!="):
                        raise BadInput(f"cannot compare {col!r} {op} null")
                    terms.append(f"{_q(col)} {op_sql} ?")
                    params.append(None)
                else:
                    t, p = sqlsafe.where_terms({col: {op: value}}, lambda: "?")
                    terms += t
                    params += p
        return terms, params
    return sqlsafe.where_terms(where, lambda: "?")


def _using(ttl: int | None, timestamp: int | None) -> tuple[str, list[Any]]:
    parts, params = [], []
    if ttl is not None:
        parts.append("TTL ?")
        params.append(int(ttl))
    if timestamp is not None:
        parts.append("TIMESTAMP ?")
        params.append(int(timestamp))
    return (" USING " + " AND ".join(parts) if parts else ""), params


def _conditions(exist: str | None, conditions: dict[str, Any] | None) -> tuple[str, list[Any]]:
    if exist == "if_exist":
        return " IF EXISTS", []
    if exist == "if_not_exist":
        return " IF NOT EXISTS", []
    terms, params = _terms(conditions, "if")
    return (" IF " + " AND ".join(terms) if terms else ""), params


def cql_create_table(table: Table) -> str:
    if not table.primary_key:
        raise BadInput("cassandra tables need a primary key", hint="pass --primary-key COL")
    cols = ", ".join(f"{_q(c.name)} {TYPES[c.datatype]['cassandra']}" for c in table.columns)
    key = ", ".join(_q(k) for k in table.primary_key)
    return f"CREATE TABLE {_q(table.name, 'table name')} ({cols}, PRIMARY KEY ({key}))"


def cql_select(table: str, q: DQL) -> tuple[str, list[Any]]:
    cols = ", ".join(_q(f) for f in q.fields) if q.fields else "*"
    cql = f"SELECT {cols} FROM {_q(table, 'table name')}"
    terms, params = _terms(q.where, "where")
    if terms:
        cql += " WHERE " + " AND ".join(terms)
    order = sqlsafe.order_terms(q.order_by)
    if order:
        cql += " ORDER BY " + ", ".join(order)
    if q.limit is not None:
        cql += " LIMIT ?"
        params.append(int(q.limit))
    if q.allow_filtering:
        cql += " ALLOW FILTERING"
    return cql, params


def cql_insert(table: str, cols: list[str], o: RecordDMLOptions) -> tuple[str, list[Any]]:
    cql = (f"INSERT INTO {_q(table, 'table name')} ({', '.join(_q(c) for c in cols)}) "
           f"VALUES ({', '.join('?' for _ in cols)})")
    if o.exist_condition == "if_not_exist":
        cql += " IF NOT EXISTS"
    using, params = _using(o.ttl, o.timestamp)
    return cql + using, params


def cql_update(table: str, o: RecordDMLOptions) -> tuple[str, list[Any]]:
    assert isinstance(o.field_values, dict)
    using, uparams = _using(o.ttl, o.timestamp)
    sets = ", ".join(f"{_q(c)} = ?" for c in o.field_values)
    terms, wparams = _terms(o.where, "where")
    cond, cparams = _conditions(o.exist_condition, o.field_conditions)
    cql = (f"UPDATE {_q(table, 'table name')}{using} SET {sets} "
           f"WHERE {' AND '.join(terms)}{cond}")
    return cql, uparams + list(o.field_values.values()) + wparams + cparams


def cql_delete(table: str, o: RecordDMLOptions) -> tuple[str, list[Any]]:
    if o.all:
        if o.timestamp is not None or o.field_conditions or o.exist_condition:
            raise BadInput("deleting all records (TRUNCATE) takes no timestamp or conditions")
        return f"TRUNCATE {_q(table, 'table name')}", []
    using, uparams = _using(None, o.timestamp)
    terms, wparams = _terms(o.where, "where")
    cond, cparams = _conditions(o.exist_condition, o.field_conditions)
    cql = f"DELETE FROM {_q(table, 'table name')}{using} WHERE {' AND '.join(terms)}{cond}"
    return cql, uparams + wparams + cparams


def cql_create_keyspace(keyspace: str, replication: dict[str, Any]) -> str:
    """The replication map rendered from validated parts only (class name, DC names, ints)."""
    if not isinstance(replication, dict) or "class" not in replication:
        raise BadInput("meta.replication must be an object with a 'class'")
    parts = []
    for k, v in replication.items():
        if k == "class":
            if not isinstance(v, str) or not _CLASS_RE.fullmatch(v):
                raise BadInput(f"invalid replication class {v!r}")
            parts.append(f"'class': '{v}'")
            continue
        sqlsafe.check_ident(k, "replication key")
        if isinstance(v, bool) or not isinstance(v, int | str) or not str(v).isdigit():
            raise BadInput(f"replication {k} must be a positive integer, got {v!r}")
        parts.append(f"'{k}': {int(v)}")
    return (f"CREATE KEYSPACE IF NOT EXISTS {_q(keyspace, 'keyspace name')} "
            f"WITH replication = {{{', '.join(parts)}}}")


def _error(e: Exception, table: str | None = None) -> OcaError:
    from cassandra import (
        AlreadyExists,
        InvalidRequest,
        OperationTimedOut,
        ReadTimeout,
        Unavailable,
        WriteTimeout,
    )
    from cassandra.cluster import NoHostAvailable

    msg = str(getattr(e, "message", "") or e).strip() or type(e).__name__
    if isinstance(e, AlreadyExists):
        return Conflict(f"table already exists: {table}" if table else msg)
    if isinstance(e, InvalidRequest):
        if "unconfigured table" in msg.lower() or "does not exist" in msg.lower():
            return NotFound(f"table not found: {table}" if table else msg)
        return BadInput(f"cassandra refused the statement: {msg}")
    if isinstance(e, OperationTimedOut | ReadTimeout | WriteTimeout):
        return Timeout(f"cassandra timed out: {msg}")
    if isinstance(e, NoHostAvailable | Unavailable):
        return BackendUnreachable(f"cassandra is unreachable: {msg}")
    return BadInput(f"cassandra failed: {msg}")


def _out(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # Cassandra timestamps are UTC
    return value if value is None or isinstance(value, str | int | float | bool) \
        else jsonable(value)


class CassandraDriver(DbDriver):
    backend = "cassandra"
    max_table_name = MAX_NAME
    capabilities = {**DbDriver.capabilities, "ttl": True, "timestamp": True,
                    "allow_filtering": True, "order_by": "clustering columns only"}

    def __init__(self, hosts: list[str], meta: dict[str, Any]) -> None:
        super().__init__(hosts, meta)
        if not hosts:
            raise BadInput("the cassandra driver needs a location HOST:PORT")
        self.contact_points: list[str] = []
        self.port = 9042
        for h in hosts:  # upstream: host parts, the port of the last entry that has one
            host, sep, port = h.rpartition(":")
            if sep and port.isdigit():
                self.contact_points.append(host.strip("[]"))
                self.port = int(port)
            else:
                self.contact_points.append(h)
        self.keyspace = sqlsafe.check_ident(meta.get("keyspace") or DEFAULT_KEYSPACE,
                                            "keyspace name", MAX_NAME)
        self.replication = meta.get("replication") or DEFAULT_REPLICATION
        self._cluster: Any = None
        self._session: Any = None
        self._prepared: dict[str, Any] = {}
        self._lock = threading.RLock()

    @property
    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                self._connect()
            return self._session

    def _connect(self) -> None:
        from cassandra import InvalidRequest
        from cassandra.cluster import Cluster
        from cassandra.query import dict_factory

        auth = None
        if self.meta.get("username"):
            from cassandra.auth import PlainTextAuthProvider

            auth = PlainTextAuthProvider(str(self.meta["username"]),
                                         str(self.meta.get("password") or ""))
        cluster = Cluster(self.contact_points, port=self.port, auth_provider=auth,
                          connect_timeout=float(self.meta.get("connect_timeout") or 10))
        try:
            session = cluster.connect()
            session.row_factory = dict_factory
            try:
                session.set_keyspace(self.keyspace)
            except InvalidRequest:
                session.execute(cql_create_keyspace(self.keyspace, self.replication))
                session.set_keyspace(self.keyspace)
        except OcaError:
            cluster.shutdown()
            raise
        except Exception as e:
            cluster.shutdown()
            raise _error(e) from None
        self._cluster, self._session = cluster, session

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()
        self._cluster = self._session = None
        self._prepared.clear()

    def _execute(self, cql: str, params: list[Any], table: str | None = None,
                 fetch_size: int | None = None) -> Any:
        session = self.session
        try:
            stmt = self._prepared.get(cql)
            if stmt is None:
                stmt = self._prepared[cql] = session.prepare(cql)
            if fetch_size:
                stmt.fetch_size = fetch_size
            return session.execute(stmt, params)
        except Exception as e:
            raise _error(e, table) from e

    def ping(self) -> dict[str, Any]:
        try:
            row = self.session.execute("SELECT release_version FROM system.local").one()
        except OcaError:
            raise
        except Exception as e:
            raise _error(e) from e
        return {"status": "ok", "backend": "cassandra", "version": row["release_version"],
                "keyspace": self.keyspace}

    # ---- schema ----

    def _table_meta(self, table: str, refresh: bool = False) -> Any:
        self.session  # noqa: B018 - connects on first use
        cluster = self._cluster
        ks = cluster.metadata.keyspaces.get(self.keyspace)
        if refresh or ks is None or table not in ks.tables:
            try:
                cluster.refresh_table_metadata(self.keyspace, table)
            except Exception:  # noqa: BLE001 - a missing table makes the refresh fail
                pass
            ks = cluster.metadata.keyspaces.get(self.keyspace)
        return ks.tables.get(table) if ks else None

    def _schema(self, table: str, refresh: bool = False) -> dict[str, str] | None:
        t = self._table_meta(table, refresh)
        if t is None:
            return None
        return {name: NATIVE.get(c.cql_type, c.cql_type) for name, c in t.columns.items()}

    def _describe(self, table: str) -> dict[str, Any]:
        t = self._table_meta(table, refresh=True)
        if t is None:
            raise NotFound(f"table not found: {table}", hint="list tables with `oca db tables`")
        return {"name": table,
                "columns": [{"name": n, "datatype": NATIVE.get(c.cql_type, c.cql_type),
                             "native": c.cql_type} for n, c in t.columns.items()],
                "primary_key": [c.name for c in t.primary_key]}

    def _list_tables(self) -> list[dict[str, Any]]:
        self.session  # noqa: B018 - connect
        self._cluster.refresh_schema_metadata()
        ks = self._cluster.metadata.keyspaces.get(self.keyspace)
        out = []
        for name in sorted(ks.tables if ks else []):
            try:
                out.append(self._describe(sqlsafe.check_ident(name, "table name", MAX_NAME)))
            except (BadInput, NotFound):
                continue
        return out

    def _create_table(self, table: Table) -> None:
        cql = cql_create_table(table)
        try:
            self.session.execute(cql)
        except OcaError:
            raise
        except Exception as e:
            raise _error(e, table.name) from e

    # ---- records ----

    @staticmethod
    def _param(ptype: str, value: Any) -> Any:
        if ptype == "json" and value is not None:
            return json.dumps(value, separators=(",", ":"))
        return value

    def _select(self, table: str, q: DQL, schema: dict[str, str]) -> Iterator[dict[str, Any]]:
        cql, params = cql_select(table, q)
        rows = self._execute(cql, params, table, fetch_size=1000)
        return ({k: _out(v) for k, v in row.items()} for row in rows)

    def _applied(self, result: Any, count: int) -> dict[str, Any]:
        row = result.one() if result is not None else None
        if row is not None and "[applied]" in row:
            ok = bool(row["[applied]"])
            return {"count": count if ok else 0, "applied": ok}
        return {"count": count}

    def _insert(self, table: str, rows: list[dict[str, Any]],
                o: RecordDMLOptions) -> dict[str, Any]:
        schema = self.schema(table)
        if len(rows) == 1:
            row = rows[0]
            cql, extra = cql_insert(table, list(row), o)
            values = [self._param(schema[c], v) for c, v in row.items()]
            return self._applied(self._execute(cql, values + extra, table), 1)
        from cassandra.query import BatchStatement, BatchType

        batch = BatchStatement(batch_type=BatchType.LOGGED)  # atomic: all or nothing
        for row in rows:
            cql, extra = cql_insert(table, list(row), o)
            stmt = self._prepared.get(cql)
            try:
                if stmt is None:
                    stmt = self._prepared[cql] = self.session.prepare(cql)
            except Exception as e:
                raise _error(e, table) from e
            batch.add(stmt, [self._param(schema[c], v) for c, v in row.items()] + extra)
        try:
            result = self.session.execute(batch)
        except Exception as e:
            err = _error(e, table)
            err = nothing_written(err)
            raise err from e
        return self._applied(result, len(rows))

    def _update(self, table: str, o: RecordDMLOptions) -> dict[str, Any]:
        schema = self.schema(table)
        assert isinstance(o.field_values, dict)
        o = o.model_copy(update={"field_values": {
            c: self._param(schema[c], v) for c, v in o.field_values.items()}})
        cql, params = cql_update(table, o)
        return self._lwt(self._execute(cql, params, table), o)

    def _delete(self, table: str, o: RecordDMLOptions) -> dict[str, Any]:
        cql, params = cql_delete(table, o)
        if o.all:
            try:
                self.session.execute(cql)
            except Exception as e:
                raise _error(e, table) from e
            return {"applied": True}
        return self._lwt(self._execute(cql, params, table), o)

    def _lwt(self, result: Any, o: RecordDMLOptions) -> dict[str, Any]:
        if o.exist_condition or o.field_conditions:
            row = result.one()
            return {"applied": bool(row and row.get("[applied]"))}
        return {"applied": True}  # Cassandra does not count affected rows
