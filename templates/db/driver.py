"""A db driver that keeps its tables in memory: the echo template of the db scope.

It runs as is and passes `oca driver test`. To reach a real database, replace the in-memory
store with calls to your backend in the `_`-prefixed hooks below (see README.md): the public
operations of `DbDriver` already validate names, values and options before calling them.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import Any

from oca.contract.db import DQL, DbDriver, RecordDMLOptions, Table, jsonable
from oca.errors import Conflict, NotFound
from oca.sqlsafe import OPERATORS, parse_order

_COMPARE = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}


def _matches(row: dict[str, Any], where: dict[str, Any] | None) -> bool:
    for col, cond in (where or {}).items():
        value = row.get(col)
        items = cond.items() if isinstance(cond, dict) else [("=", cond)]
        for op, expected in items:
            sql_op = OPERATORS[str(op).lower()]
            if sql_op == "IN":
                if value not in expected:
                    return False
            elif expected is None:  # IS NULL / IS NOT NULL
                if (value is None) != (sql_op == "="):
                    return False
            elif value is None or not _COMPARE[sql_op](value, expected):
                return False
    return True


class EchoDbDriver(DbDriver):
    """Tables and records in memory (per service, for the life of the process)."""

    backend = "echo"

    def __init__(self, hosts: list[str], meta: dict[str, Any]) -> None:
        super().__init__(hosts, meta)
        # TODO: open a connection to your backend here (self.hosts: ["host:port", ...],
        # self.meta: the service's meta, e.g. credentials); close it in close().
        self.tables: dict[str, dict[str, Any]] = {}

    def ping(self) -> dict[str, Any]:
        # TODO: a real round trip to the backend (e.g. SELECT 1).
        return {"status": "ok", "backend": self.backend, "hosts": self.hosts}

    def _table(self, name: str) -> dict[str, Any]:
        if name not in self.tables:
            raise NotFound(f"table not found: {name}", hint="list tables with `oca db tables`")
        return self.tables[name]

    def _list_tables(self) -> list[dict[str, Any]]:
        return [self._describe(name) for name in sorted(self.tables)]

    def _create_table(self, table: Table) -> None:
        if table.name in self.tables:
            raise Conflict(f"table already exists: {table.name}")
        self.tables[table.name] = {
            "columns": {c.name: c.datatype for c in table.columns},
            "primary_key": list(table.primary_key),
            "rows": [],
        }

    def _describe(self, table: str) -> dict[str, Any]:
        t = self._table(table)
        return {"name": table,
                "columns": [{"name": n, "datatype": d} for n, d in t["columns"].items()],
                "primary_key": t["primary_key"]}

    def _schema(self, table: str, refresh: bool = False) -> dict[str, str] | None:
        t = self.tables.get(table)
        return dict(t["columns"]) if t else None

    def _select(self, table: str, q: DQL, schema: dict[str, str]) -> Iterator[dict[str, Any]]:
        rows = [r for r in self._table(table)["rows"] if _matches(r, q.where)]
        for item in reversed(q.order_by or []):
            col, direction = parse_order(item)
            rows.sort(key=lambda r, c=col: (r.get(c) is not None, r.get(c)),
                      reverse=direction == "DESC")
        if q.limit is not None:
            rows = rows[: q.limit]
        fields = q.fields or list(schema)
        for r in rows:
            yield {f: jsonable(r.get(f)) for f in fields}

    def _insert(self, table: str, rows: list[dict[str, Any]],
                o: RecordDMLOptions) -> dict[str, Any]:
        t = self._table(table)
        pk = t["primary_key"]
        keys = {tuple(r.get(k) for k in pk) for r in t["rows"]} if pk else set()
        new = []
        for row in rows:
            key = tuple(row.get(k) for k in pk)
            if pk and key in keys:
                if o.exist_condition == "if_not_exist":
                    continue
                raise Conflict(f"a record with {dict(zip(pk, key, strict=True))} exists; "
                               "nothing was written")
            keys.add(key)
            new.append({c: row.get(c) for c in t["columns"]})
        t["rows"].extend(new)
        return {"count": len(new)}

    def _update(self, table: str, o: RecordDMLOptions) -> dict[str, Any]:
        n = 0
        for r in self._table(table)["rows"]:
            if _matches(r, o.where) and _matches(r, o.field_conditions):
                r.update(o.field_values or {})
                n += 1
        return {"count": n}

    def _delete(self, table: str, o: RecordDMLOptions) -> dict[str, Any]:
        t = self._table(table)
        keep = [r for r in t["rows"]
                if not (o.all or (_matches(r, o.where) and _matches(r, o.field_conditions)))]
        n = len(t["rows"]) - len(keep)
        t["rows"] = keep
        return {"count": n}
