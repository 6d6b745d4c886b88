"""The sqlite driver: a SQLite file through the standard library, run in oca's process.

The file is the service's `path` location (or `meta.path`). Values are bound parameters;
identifiers are validated and quoted by oca.sqlsafe. Types follow the portable map in
oca.contract.db: booleans are stored as 0/1, timestamps as ISO 8601 text in UTC, json as text.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from oca import sqlsafe
from oca.contract.db import (
    DQL,
    TYPES,
    DbDriver,
    RecordDMLOptions,
    Table,
    native_to_portable,
    nothing_written,
)
from oca.errors import BackendUnreachable, BadInput, Conflict, NotFound, OcaError, Timeout

NATIVE = native_to_portable("sqlite")


def _to_db(ptype: str, value: Any) -> Any:
    if value is None:
        return None
    if ptype == "timestamp" or ptype == "date":
        return value.isoformat()
    if ptype == "uuid":
        return str(value)
    if ptype == "json":
        return json.dumps(value, separators=(",", ":"))
    return value


def _from_db(ptype: str, value: Any) -> Any:
    if value is None:
        return None
    if ptype == "bool":
        return bool(value)
    if ptype == "json" and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    return value


def _error(e: sqlite3.Error, table: str | None = None) -> OcaError:
    msg = str(e)
    low = msg.lower()
    if "no such table" in low:
        return NotFound(f"table not found: {table or msg}", hint="list tables with `oca db tables`")
    if "already exists" in low:
        return Conflict(f"table already exists: {table}" if table else msg)
    if isinstance(e, sqlite3.IntegrityError) and "unique constraint" in low:
        return Conflict(f"a record with the same key exists ({msg})",
                        hint="use --if-not-exists (exist_condition if_not_exist) to skip them")
    if "locked" in low or "busy" in low:
        return Timeout(f"the SQLite database is locked ({msg})")
    if isinstance(e, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.OperationalError
                  | sqlite3.DataError):
        return BadInput(f"sqlite refused the statement: {msg}")
    return BackendUnreachable(f"sqlite failed: {msg}")


class SqliteDriver(DbDriver):
    backend = "sqlite"
    capabilities = {**DbDriver.capabilities, "ttl": False, "timestamp": False}

    def __init__(self, hosts: list[str], meta: dict[str, Any]) -> None:
        super().__init__(hosts, meta)
        path = meta.get("path") or (hosts[0] if hosts else None)
        if not path:
            raise BadInput("the sqlite driver needs a file: a `path` location or meta.path")
        self.path = Path(path).expanduser()
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._schemas: dict[str, dict[str, str]] = {}
        self._schema_version = -1

    # ---- connection ----

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except (OSError, sqlite3.Error) as e:
                raise BackendUnreachable(f"cannot open SQLite file {self.path}: {e}") from e
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def ping(self) -> dict[str, Any]:
        with self._lock:
            try:
                self.conn.execute("SELECT 1").fetchone()
            except sqlite3.Error as e:
                raise BackendUnreachable(f"sqlite file {self.path} is not usable: {e}") from e
        return {"status": "ok", "backend": "sqlite", "version": sqlite3.sqlite_version,
                "path": str(self.path)}

    # ---- schema ----

    def _info(self, table: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(f"PRAGMA table_info({sqlsafe.quote(table)})").fetchall()

    @staticmethod
    def _reserved(table: str) -> None:
        if table.lower().startswith("sqlite_"):
            raise BadInput(f"invalid table name {table!r}: sqlite_ names are reserved")

    def _schema(self, table: str, refresh: bool = False) -> dict[str, str] | None:
        self._reserved(table)
        with self._lock:
            try:
                version = self.conn.execute("PRAGMA schema_version").fetchone()[0]
                if version != self._schema_version:
                    self._schemas.clear()
                    self._schema_version = version
                if refresh or table not in self._schemas:
                    info = self._info(table)
                    if not info:
                        self._schemas.pop(table, None)
                        return None
                    self._schemas[table] = {
                        r[1]: NATIVE.get(r[2].lower(), r[2].lower()) for r in info}
            except sqlite3.Error as e:
                raise _error(e, table) from e
            return self._schemas[table]

    def _describe(self, table: str) -> dict[str, Any]:
        self._reserved(table)
        with self._lock:
            try:
                info = self._info(table)
            except sqlite3.Error as e:
                raise _error(e, table) from e
        if not info:
            raise NotFound(f"table not found: {table}", hint="list tables with `oca db tables`")
        return {
            "name": table,
            "columns": [{"name": r[1], "datatype": NATIVE.get(r[2].lower(), r[2].lower()),
                         "native": r[2]} for r in info],
            "primary_key": [r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5])],
        }

    def _list_tables(self) -> list[dict[str, Any]]:
        with self._lock:
            names = [r[0] for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")]
        out = []
        for n in names:
            try:
                out.append(self._describe(sqlsafe.check_ident(n, "table name")))
            except BadInput:
                continue  # a table made outside oca with a name oca would refuse
        return out

    def _create_table(self, table: Table) -> None:
        self._reserved(table.name)
        sql = sqlsafe.create_table_sql(
            table.name, [(c.name, TYPES[c.datatype]["sqlite"]) for c in table.columns],
            table.primary_key)
        with self._lock:
            try:
                self.conn.execute(sql)
            except sqlite3.Error as e:
                raise _error(e, table.name) from e

    # ---- records ----

    def _select(self, table: str, q: DQL, schema: dict[str, str]) -> Iterator[dict[str, Any]]:
        where = {c: self._where_value(schema[c], v) for c, v in (q.where or {}).items()}
        sql, params = sqlsafe.select_sql(table, q.fields, where, q.order_by, q.limit, "?")
        with self._lock:
            try:
                cur = self.conn.execute(sql, params)
                names = [d[0] for d in cur.description]
                batch = cur.fetchmany(1000)
            except sqlite3.Error as e:
                raise _error(e, table) from e
        return self._rows(cur, names, schema, batch)

    def _rows(self, cur: sqlite3.Cursor, names: list[str], schema: dict[str, str],
              batch: list[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
        types = [schema.get(n, "") for n in names]
        plain = all(t not in ("bool", "json") for t in types)
        while batch:
            for row in batch:
                if plain:
                    yield dict(zip(names, row, strict=True))
                else:
                    yield {n: _from_db(t, v) for n, t, v in zip(names, types, row, strict=True)}
            with self._lock:
                batch = cur.fetchmany(1000)

    @staticmethod
    def _where_value(ptype: str, cond: Any) -> Any:
        if isinstance(cond, dict):
            return {op: [_to_db(ptype, x) for x in v] if isinstance(v, list) else _to_db(ptype, v)
                    for op, v in cond.items()}
        return _to_db(ptype, cond)

    def _insert(self, table: str, rows: list[dict[str, Any]],
                o: RecordDMLOptions) -> dict[str, Any]:
        schema = self._schemas.get(table) or self.schema(table)
        groups: dict[tuple[str, ...], list[list[Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(
                [_to_db(schema[c], v) for c, v in row.items()])
        count = 0
        with self._lock:
            conn = self.conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for cols, params in groups.items():
                        sql = sqlsafe.insert_sql(table, cols, "?",
                                                 o.exist_condition == "if_not_exist")
                        cur = conn.executemany(sql, params)
                        count += max(cur.rowcount, 0)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as e:
                err = _error(e, table)
                if len(rows) > 1:
                    err = nothing_written(err)
                raise err from e
        return {"count": count}

    def _update(self, table: str, o: RecordDMLOptions) -> dict[str, Any]:
        schema = self.schema(table)
        assert isinstance(o.field_values, dict)
        values = {c: _to_db(schema[c], v) for c, v in o.field_values.items()}
        where = {c: self._where_value(schema[c], v) for c, v in (o.where or {}).items()}
        cond = {c: self._where_value(schema[c], v)
                for c, v in (o.field_conditions or {}).items()}
        sql, params = sqlsafe.update_sql(table, values, where, cond, "?")
        return self._write(table, sql, params)

    def _delete(self, table: str, o: RecordDMLOptions) -> dict[str, Any]:
        schema = self.schema(table)
        where = {c: self._where_value(schema[c], v) for c, v in (o.where or {}).items()}
        cond = {c: self._where_value(schema[c], v)
                for c, v in (o.field_conditions or {}).items()}
        sql, params = sqlsafe.delete_sql(table, where, cond, "?")
        return self._write(table, sql, params)

    def _write(self, table: str, sql: str, params: list[Any]) -> dict[str, Any]:
        with self._lock:
            try:
                cur = self.conn.execute(sql, params)
            except sqlite3.Error as e:
                raise _error(e, table) from e
        return {"count": max(cur.rowcount, 0)}
