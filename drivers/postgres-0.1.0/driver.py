"""The postgres driver: PostgreSQL through psycopg 3, run in oca's process.

The backend is the service's first location (`host:port`); `meta` gives `user`, `password`,
`dbname` (defaults postgres/none/postgres), optional `sslmode` and `connect_timeout`.
Passwords are never logged or put in error messages. One connection per service instance,
in autocommit mode; a bulk insert runs in one transaction (all or nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
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

NATIVE = native_to_portable("postgres")
_PLAIN = (str, int, float, bool, dict, list)

_COLUMNS = (
    "SELECT column_name, data_type FROM information_schema.columns "
    "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position"
)
_PKEY = (
    "SELECT a.attname FROM pg_index i "
    "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
    "WHERE i.indisprimary AND i.indrelid = ("
    " SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relname = %s) "
    "ORDER BY array_position(i.indkey, a.attnum)"
)
_TABLES = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
    "AND table_type = 'BASE TABLE' ORDER BY table_name"
)


def _error(e: Exception, table: str | None = None) -> OcaError:
    import psycopg
    from psycopg import errors as pe

    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, pe.UndefinedTable):
        return NotFound(f"table not found: {table}" if table else msg,
                        hint="list tables with `oca db tables`")
    if isinstance(e, pe.DuplicateTable):
        return Conflict(f"table already exists: {table}" if table else msg)
    if isinstance(e, pe.UniqueViolation):
        return Conflict(f"a record with the same key exists ({msg})",
                        hint="use --if-not-exists (exist_condition if_not_exist) to skip them")
    if isinstance(e, pe.QueryCanceled | pe.LockNotAvailable):
        return Timeout(f"postgres: {msg}")
    if isinstance(e, psycopg.OperationalError):
        return BackendUnreachable(f"postgres is unreachable: {msg}")
    if isinstance(e, psycopg.Error):
        return BadInput(f"postgres refused the statement: {msg}")
    return BackendUnreachable(f"postgres failed: {msg}")


class PostgresDriver(DbDriver):
    backend = "postgres"
    capabilities = {**DbDriver.capabilities, "ttl": False, "timestamp": False}

    def __init__(self, hosts: list[str], meta: dict[str, Any]) -> None:
        super().__init__(hosts, meta)
        if not hosts:
            raise BadInput("the postgres driver needs a location HOST:PORT")
        host, _, port = hosts[0].rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port or 5432)
        self._conn: Any = None
        self._lock = threading.RLock()
        self._schemas: dict[str, dict[str, str]] = {}

    # ---- connection ----

    @property
    def conn(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            import psycopg

            m = self.meta
            kwargs: dict[str, Any] = {
                "host": self.host, "port": self.port,
                "user": m.get("user") or "postgres", "dbname": m.get("dbname") or "postgres",
                "connect_timeout": int(m.get("connect_timeout") or 10),
                "autocommit": True, "options": "-c TimeZone=UTC",
                "application_name": "oca",
            }
            if m.get("password"):
                kwargs["password"] = str(m["password"])
            if m.get("sslmode"):
                kwargs["sslmode"] = str(m["sslmode"])
            try:
                self._conn = psycopg.connect(**kwargs)
            except psycopg.Error as e:
                # libpq messages name host/port/user, never the password.
                raise BackendUnreachable(
                    f"postgres at {self.host}:{self.port} is unreachable: "
                    f"{str(e).strip().splitlines()[0] if str(e).strip() else e}",
                    hint="check the service's location and meta (user, dbname, password)",
                ) from None
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, sql: str, params: Any = None, table: str | None = None,
             fetch: bool = True) -> Any:
        with self._lock:
            conn = self.conn
            try:
                cur = conn.execute(sql, params)
                return cur.fetchall() if fetch else cur
            except Exception as e:
                self._schemas.clear()
                raise _error(e, table) from e

    def ping(self) -> dict[str, Any]:
        version = self._run("SHOW server_version")[0][0]
        return {"status": "ok", "backend": "postgres", "version": version,
                "host": f"{self.host}:{self.port}"}

    # ---- schema ----

    def _schema(self, table: str, refresh: bool = False) -> dict[str, str] | None:
        if refresh or table not in self._schemas:
            rows = self._run(_COLUMNS, (table,), table)
            if not rows:
                self._schemas.pop(table, None)
                return None
            self._schemas[table] = {n: NATIVE.get(t, t) for n, t in rows}
        return self._schemas[table]

    def _describe(self, table: str) -> dict[str, Any]:
        rows = self._run(_COLUMNS, (table,), table)
        if not rows:
            raise NotFound(f"table not found: {table}", hint="list tables with `oca db tables`")
        pk = [r[0] for r in self._run(_PKEY, (table,), table)]
        self._schemas[table] = {n: NATIVE.get(t, t) for n, t in rows}
        return {"name": table,
                "columns": [{"name": n, "datatype": NATIVE.get(t, t), "native": t}
                            for n, t in rows],
                "primary_key": pk}

    def _list_tables(self) -> list[dict[str, Any]]:
        out = []
        for (name,) in self._run(_TABLES):
            try:
                out.append(self._describe(sqlsafe.check_ident(name, "table name")))
            except (BadInput, NotFound):
                continue  # made outside oca with a name oca refuses, or dropped meanwhile
        return out

    def _create_table(self, table: Table) -> None:
        sql = sqlsafe.create_table_sql(
            table.name, [(c.name, TYPES[c.datatype]["postgres"]) for c in table.columns],
            table.primary_key)
        self._run(sql, table=table.name, fetch=False)
        self._schemas.pop(table.name, None)

    # ---- records ----

    @staticmethod
    def _param(ptype: str, value: Any) -> Any:
        if ptype == "json" and value is not None:
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return value

    def _where(self, schema: dict[str, str], where: dict[str, Any] | None) -> dict[str, Any]:
        out = {}
        for c, cond in (where or {}).items():
            if schema.get(c) == "json":
                raise BadInput(f"cannot filter on json column {c!r}")
            out[c] = cond
        return out

    def _select(self, table: str, q: DQL, schema: dict[str, str]) -> Iterator[dict[str, Any]]:
        sql, params = sqlsafe.select_sql(table, q.fields, self._where(schema, q.where),
                                         q.order_by, q.limit, "%s")
        with self._lock:
            try:
                cur = self.conn.execute(sql, params)
                rows = cur.fetchall()
            except Exception as e:
                self._schemas.clear()
                raise _error(e, table) from e
            names = [d.name for d in cur.description]
        return self._dicts(names, rows)

    def _stream_select(self, table: str, q: DQL,
                       schema: dict[str, str]) -> Iterator[dict[str, Any]]:
        if q.limit is not None and q.limit <= 1000:
            return self._select(table, q, schema)
        sql, params = sqlsafe.select_sql(table, q.fields, self._where(schema, q.where),
                                         q.order_by, q.limit, "%s")
        return self._stream(table, sql, params)

    def _stream(self, table: str, sql: str, params: list[Any]) -> Iterator[dict[str, Any]]:
        with self._lock:
            cur = self.conn.cursor()
            try:
                names: list[str] | None = None
                for row in cur.stream(sql, params):
                    if names is None:
                        names = [d.name for d in cur.description]
                    yield self._dict(names, row)
            except OcaError:
                raise
            except Exception as e:
                self._schemas.clear()
                raise _error(e, table) from e
            finally:
                cur.close()

    @staticmethod
    def _dict(names: list[str], row: tuple[Any, ...]) -> dict[str, Any]:
        return {n: v if v is None or isinstance(v, _PLAIN) else jsonable(v)
                for n, v in zip(names, row, strict=True)}

    def _dicts(self, names: list[str], rows: list[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
        for row in rows:
            yield self._dict(names, row)

    def _groups(self, schema: dict[str, str],
                rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[Any]]:
        """Rows as parameter tuples, grouped by their columns (one statement per group)."""
        keysets = set(map(tuple, rows))
        if len(keysets) == 1:  # the usual case: converted in C loops
            keys = keysets.pop()
            if not any(schema[c] == "json" for c in keys):
                return {keys: list(map(tuple, map(dict.values, rows)))}
        groups: dict[tuple[str, ...], list[Any]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(
                [self._param(schema[c], v) for c, v in row.items()])
        return groups

    def _insert(self, table: str, rows: list[dict[str, Any]],
                o: RecordDMLOptions) -> dict[str, Any]:
        groups = self._groups(self.schema(table), rows)
        count = 0
        with self._lock:
            conn = self.conn
            try:
                with conn.transaction(), conn.cursor() as cur:
                    for cols, params in groups.items():
                        if len(params) > 1 and o.exist_condition is None:
                            # COPY: the fastest bulk path, still inside the transaction
                            with cur.copy(sqlsafe.copy_sql(table, cols)) as copy:
                                for p in params:
                                    copy.write_row(p)
                            count += len(params)
                            continue
                        sql = sqlsafe.insert_sql(table, cols, "%s",
                                                 o.exist_condition == "if_not_exist")
                        if len(params) == 1:
                            cur.execute(sql, params[0])
                        else:
                            cur.executemany(sql, params)
                        count += max(cur.rowcount, 0)
            except Exception as e:
                self._schemas.clear()
                err = _error(e, table)
                if len(rows) > 1:
                    err = nothing_written(err)
                raise err from e
        return {"count": count}

    def _update(self, table: str, o: RecordDMLOptions) -> dict[str, Any]:
        schema = self.schema(table)
        assert isinstance(o.field_values, dict)
        values = {c: self._param(schema[c], v) for c, v in o.field_values.items()}
        sql, params = sqlsafe.update_sql(table, values, self._where(schema, o.where),
                                         self._where(schema, o.field_conditions), "%s")
        return {"count": max(self._run(sql, params, table, fetch=False).rowcount, 0)}

    def _delete(self, table: str, o: RecordDMLOptions) -> dict[str, Any]:
        schema = self.schema(table)
        sql, params = sqlsafe.delete_sql(table, self._where(schema, o.where),
                                         self._where(schema, o.field_conditions), "%s")
        return {"count": max(self._run(sql, params, table, fetch=False).rowcount, 0)}
