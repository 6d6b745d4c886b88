"""Identifiers and statements that cannot be injected, for every SQL/CQL driver.

Table and column names are never escaped-and-hoped-for: they must match a strict portable
pattern (ASCII letter or `_`, then letters, digits, `_`; at most 63 characters) and are then
double-quoted, which both SQL and CQL read as a case-sensitive identifier. Values never
enter statement text: they travel as bound parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from oca.errors import BadInput

IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_IDENT = 63

#: where-clause operators: canonical SQL/CQL text by accepted spelling.
OPERATORS = {
    "=": "=", "eq": "=",
    "!=": "!=", "<>": "!=", "ne": "!=",
    "<": "<", "lt": "<",
    "<=": "<=", "lte": "<=",
    ">": ">", "gt": ">",
    ">=": ">=", "gte": ">=",
    "in": "IN",
}


def check_ident(name: Any, what: str = "identifier", max_len: int = MAX_IDENT) -> str:
    """`name` if it is a safe identifier, else BadInput (exit 6) saying what is allowed."""
    if not isinstance(name, str) or not name:
        raise BadInput(f"invalid {what} {name!r}: expected a non-empty name")
    if len(name) > max_len:
        raise BadInput(f"invalid {what} {name[:40]!r}...: longer than {max_len} characters")
    if not IDENT_RE.fullmatch(name):
        raise BadInput(
            f"invalid {what} {name!r}",
            hint="use ASCII letters, digits and '_', starting with a letter or '_'",
        )
    return name


def quote(name: str, what: str = "identifier", max_len: int = MAX_IDENT) -> str:
    """A validated identifier, double-quoted."""
    return '"' + check_ident(name, what, max_len) + '"'


def where_terms(
    where: dict[str, Any] | None, ph: Callable[[], str], max_len: int = MAX_IDENT
) -> tuple[list[str], list[Any]]:
    """`{"a": 1, "b": {">": 2}, "c": None, "d": {"in": [1, 2]}}` as terms and parameters.

    `ph()` returns the next placeholder (`?` or `%s`). A null value means IS NULL; a dict
    maps operators to values (several operators on one column are ANDed).
    """
    terms: list[str] = []
    params: list[Any] = []
    for col, cond in (where or {}).items():
        q = quote(col, "column name", max_len)
        if cond is None:
            terms.append(f"{q} IS NULL")
            continue
        items = cond.items() if isinstance(cond, dict) else [("=", cond)]
        if isinstance(cond, dict) and not cond:
            raise BadInput(f"where condition on {col!r} is an empty object")
        for op, value in items:
            sql_op = OPERATORS.get(str(op).lower())
            if sql_op is None:
                raise BadInput(
                    f"unknown where operator {op!r} on {col!r}",
                    hint="use one of = != < <= > >= in (or eq ne lt lte gt gte)",
                )
            if sql_op == "IN":
                if not isinstance(value, list) or not value:
                    raise BadInput(f"'in' on {col!r} needs a non-empty JSON array")
                terms.append(f"{q} IN ({', '.join(ph() for _ in value)})")
                params.extend(value)
            elif value is None:
                if sql_op not in ("=", "!="):
                    raise BadInput(f"cannot compare {col!r} {op} null")
                terms.append(f"{q} IS {'NOT ' if sql_op == '!=' else ''}NULL")
            else:
                if isinstance(value, dict | list):
                    raise BadInput(f"where value for {col!r} must be a scalar, got {value!r}")
                terms.append(f"{q} {sql_op} {ph()}")
                params.append(value)
    return terms, params


def where_columns(where: dict[str, Any] | None) -> Iterable[str]:
    return (where or {}).keys()


def order_terms(order_by: list[str] | None, max_len: int = MAX_IDENT) -> list[str]:
    """`["a", "-b", "c:desc"]` as `"a" ASC, "b" DESC, "c" DESC` terms."""
    out = []
    for item in order_by or []:
        col, direction = parse_order(item)
        out.append(f"{quote(col, 'column name', max_len)} {direction}")
    return out


def parse_order(item: str) -> tuple[str, str]:
    text = str(item).strip()
    direction = "ASC"
    if text.startswith("-"):
        text, direction = text[1:], "DESC"
    elif ":" in text:
        text, _, d = text.partition(":")
        d = d.strip().upper()
        if d not in ("ASC", "DESC"):
            raise BadInput(f"invalid order {item!r}: use COL, -COL, COL:asc or COL:desc")
        direction = d
    return text.strip(), direction


# ---- SQL statements (SQLite and PostgreSQL); `ph` is the driver's placeholder ----


def create_table_sql(name: str, columns: list[tuple[str, str]], primary_key: list[str]) -> str:
    """`columns` holds (name, native type); native types come from oca's own type map."""
    parts = [f"{quote(c, 'column name')} {t}" for c, t in columns]
    if primary_key:
        parts.append(f"PRIMARY KEY ({', '.join(quote(k, 'column name') for k in primary_key)})")
    return f"CREATE TABLE {quote(name, 'table name')} ({', '.join(parts)})"


def select_sql(table: str, fields: list[str] | None, where: dict[str, Any] | None,
               order_by: list[str] | None, limit: int | None, ph: str) -> tuple[str, list[Any]]:
    cols = ", ".join(quote(f, "column name") for f in fields) if fields else "*"
    sql = f"SELECT {cols} FROM {quote(table, 'table name')}"
    terms, params = where_terms(where, lambda: ph)
    if terms:
        sql += " WHERE " + " AND ".join(terms)
    order = order_terms(order_by)
    if order:
        sql += " ORDER BY " + ", ".join(order)
    if limit is not None:
        sql += f" LIMIT {ph}"
        params.append(int(limit))
    return sql, params


def insert_sql(table: str, cols: Iterable[str], ph: str, if_not_exists: bool = False) -> str:
    cols = list(cols)
    sql = (f"INSERT INTO {quote(table, 'table name')} "
           f"({', '.join(quote(c, 'column name') for c in cols)}) "
           f"VALUES ({', '.join(ph for _ in cols)})")
    if if_not_exists:
        sql += " ON CONFLICT DO NOTHING"
    return sql


def copy_sql(table: str, cols: Iterable[str]) -> str:
    """PostgreSQL's bulk load of the given columns from the client."""
    return (f"COPY {quote(table, 'table name')} "
            f"({', '.join(quote(c, 'column name') for c in cols)}) FROM STDIN")


def update_sql(table: str, values: dict[str, Any], where: dict[str, Any] | None,
               conditions: dict[str, Any] | None, ph: str) -> tuple[str, list[Any]]:
    sets = [f"{quote(c, 'column name')} = {ph}" for c in values]
    params = list(values.values())
    terms, wparams = where_terms({**(where or {})}, lambda: ph)
    cterms, cparams = where_terms(conditions, lambda: ph)
    sql = f"UPDATE {quote(table, 'table name')} SET {', '.join(sets)}"
    if terms or cterms:
        sql += " WHERE " + " AND ".join(terms + cterms)
    return sql, params + wparams + cparams


def delete_sql(table: str, where: dict[str, Any] | None, conditions: dict[str, Any] | None,
               ph: str) -> tuple[str, list[Any]]:
    terms, params = where_terms(where, lambda: ph)
    cterms, cparams = where_terms(conditions, lambda: ph)
    sql = f"DELETE FROM {quote(table, 'table name')}"
    if terms or cterms:
        sql += " WHERE " + " AND ".join(terms + cterms)
    return sql, params + cparams
