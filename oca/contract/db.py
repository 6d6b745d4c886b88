"""The db scope contract: tables and records, the same for SQLite, PostgreSQL and Cassandra.

REST paths are upstream's (`/ping`, `/table`, `/table/{table}`, `/table/{table}/record`) and
so are the request shapes: Table `{"name", "columns": [{"name", "datatype"}], "primary_key"}`,
RecordDMLOptions `{"field_values", "where", "ttl", "timestamp", "field_conditions",
"exist_condition"}`, and a DQL object for selects.

The public methods below validate everything (identifiers, types, options the backend cannot
honour) and coerce values to the column types, so every driver behaves alike; a driver only
implements the `_`-prefixed hooks, which receive validated input.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from oca.contract.base import Driver, Operation, ops
from oca.errors import BadInput, NotFound, OcaError
from oca.sqlsafe import MAX_IDENT, OPERATORS, check_ident, parse_order

# The portable type vocabulary and its per-backend map (documented in docs/db.md).
BACKENDS = ("sqlite", "postgres", "cassandra")
TYPES: dict[str, dict[str, str]] = {
    "int": {"sqlite": "INTEGER", "postgres": "integer", "cassandra": "int"},
    "bigint": {"sqlite": "BIGINT", "postgres": "bigint", "cassandra": "bigint"},
    "float": {"sqlite": "DOUBLE", "postgres": "double precision", "cassandra": "double"},
    "text": {"sqlite": "TEXT", "postgres": "text", "cassandra": "text"},
    "bool": {"sqlite": "BOOLEAN", "postgres": "boolean", "cassandra": "boolean"},
    "timestamp": {"sqlite": "TIMESTAMP", "postgres": "timestamp with time zone",
                  "cassandra": "timestamp"},
    "date": {"sqlite": "DATE", "postgres": "date", "cassandra": "date"},
    "uuid": {"sqlite": "UUID", "postgres": "uuid", "cassandra": "uuid"},
    "json": {"sqlite": "JSON", "postgres": "jsonb", "cassandra": "text"},
}
#: Other spellings accepted in a column's `datatype`.
ALIASES = {
    "integer": "int", "int4": "int", "int8": "bigint", "long": "bigint",
    "double": "float", "real": "float", "float8": "float", "double precision": "float",
    "string": "text", "varchar": "text", "str": "text",
    "boolean": "bool", "timestamptz": "timestamp", "datetime": "timestamp", "jsonb": "json",
}
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


def portable_type(datatype: str) -> str:
    t = " ".join(str(datatype).lower().split())
    t = ALIASES.get(t, t)
    if t not in TYPES:
        raise BadInput(
            f"unknown column type {datatype!r}",
            hint=f"use one of: {', '.join(TYPES)}",
        )
    return t


def native_to_portable(backend: str) -> dict[str, str]:
    """Reverse map of one backend (`text` wins over `json` on Cassandra, which stores both)."""
    out: dict[str, str] = {}
    for portable, natives in TYPES.items():
        out.setdefault(natives[backend].lower(), portable)
    return out


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    datatype: str

    @field_validator("datatype")
    @classmethod
    def _type(cls, v: str) -> str:
        return portable_type(v)


class Table(BaseModel):
    """Upstream's Table request: a name, typed columns, and the primary key columns."""

    model_config = ConfigDict(extra="forbid")

    name: str
    columns: list[Column] = Field(min_length=1)
    primary_key: list[str] = Field(default_factory=list)


class DQL(BaseModel):
    """A select: columns (`fields`, alias `columns`), where, order_by, limit."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    fields: list[str] | None = Field(default=None,
                                     validation_alias=AliasChoices("fields", "columns"))
    where: dict[str, Any] | None = None
    order_by: list[str] | None = None
    limit: int | None = Field(default=None, ge=0)
    allow_filtering: bool = False

    @field_validator("order_by", "fields", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        if isinstance(v, str):
            return [p.strip() for p in v.split(",") if p.strip()]
        return v


class RecordDMLOptions(BaseModel):
    """Upstream's DML options. oca extends `field_values` to accept a list of records
    (written in one transaction) and adds `all` (delete every record, explicitly)."""

    model_config = ConfigDict(extra="forbid")

    # Any + a check instead of dict | list[dict]: pydantic would copy every record
    field_values: Any = None
    where: dict[str, Any] | None = None
    ttl: int | None = Field(default=None, ge=0)
    timestamp: int | None = None
    field_conditions: dict[str, Any] | None = None
    exist_condition: Literal["if_exist", "if_not_exist"] | None = None
    all: bool = False

    @field_validator("field_values")
    @classmethod
    def _records(cls, v: Any) -> Any:
        if v is None or type(v) is dict:
            return v
        if isinstance(v, list) and all(type(r) is dict for r in v):
            return v
        raise ValueError("must be a JSON object or an array of objects")


def _parse(model: type[BaseModel], data: Any, what: str) -> Any:
    from oca.models import parse

    if isinstance(data, model):
        return data
    if isinstance(data, str):
        try:
            data = json.loads(data) if data.strip() else {}
        except json.JSONDecodeError as e:
            raise BadInput(f"{what} is not valid JSON: {e.msg}") from e
    return parse(model, data if data is not None else {}, what)


_FAST = {"int": (int, INT32), "bigint": (int, INT64)}


def coerce(value: Any, ptype: str, col: str) -> Any:
    """`value` (from JSON) checked against the portable type of `col`; Python value out."""
    # fast paths for the common exact types (bulk inserts spend their time here)
    t = type(value)
    if t is str and ptype == "text" and "\x00" not in value:
        return value
    if t is int and ptype in _FAST:
        lo, hi = _FAST[ptype][1]
        if lo <= value <= hi:
            return value
    if t is float and ptype == "float" and math.isfinite(value):
        return value
    if value is None or ptype not in TYPES:
        return value

    def bad(expected: str) -> BadInput:
        shown = repr(value) if len(repr(value)) < 80 else repr(value)[:77] + "..."
        return BadInput(f"invalid value for column {col!r} ({ptype}): {shown}; "
                        f"expected {expected}")

    if ptype in ("int", "bigint"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        lo, hi = INT32 if ptype == "int" else INT64
        if not lo <= value <= hi:
            raise bad(f"an integer in [{lo}, {hi}]")
        return value
    if ptype == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad("a number")
        if not math.isfinite(value):
            raise bad("a finite number")
        return float(value)
    if ptype == "text":
        if not isinstance(value, str):
            raise bad("a string")
        if "\x00" in value:
            raise bad("a string without NUL characters")
        return value
    if ptype == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if ptype == "timestamp":
        if isinstance(value, datetime):
            dt = value
        elif isinstance(value, str):
            try:
                dt = datetime.fromisoformat(value)
            except ValueError:
                raise bad("an ISO 8601 timestamp") from None
        else:
            raise bad("an ISO 8601 timestamp string")
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    if ptype == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if not isinstance(value, str):
            raise bad("an ISO date string (YYYY-MM-DD)")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise bad("an ISO date (YYYY-MM-DD)") from None
    if ptype == "uuid":
        if isinstance(value, uuid.UUID):
            return value
        if not isinstance(value, str):
            raise bad("a UUID string")
        try:
            return uuid.UUID(value)
        except ValueError:
            raise bad("a UUID") from None
    return value  # json: any JSON value


_NONE = type(None)


def _fast_ok(ptype: str, values: tuple[Any, ...]) -> bool:
    """True when a column's values need no conversion and are valid (checked in C loops)."""
    types = set(map(type, values))
    present = values
    if _NONE in types:
        types.discard(_NONE)
        present = tuple(v for v in values if v is not None)
    if not types:
        return True
    if len(types) > 1:
        return False
    kind = types.pop()
    if ptype in _FAST:
        lo, hi = _FAST[ptype][1]
        return kind is int and lo <= min(present) and max(present) <= hi
    if ptype == "text":
        return kind is str and "\x00" not in "".join(present)
    if ptype == "float":
        return kind is float and all(map(math.isfinite, present))
    if ptype == "bool":
        return kind is bool
    return False


def nothing_written(err: OcaError) -> OcaError:
    """The same error, saying that a many-record write was rolled back."""
    return type(err)(f"{err.message}; nothing was written", hint=err.hint)


def jsonable(value: Any) -> Any:
    """A backend value as JSON can carry it (timestamps and dates as ISO text, UUIDs as text)."""
    if value is None or isinstance(value, str | int | float | bool | dict | list):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        import base64

        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "date") and hasattr(value, "days_from_epoch"):  # cassandra.util.Date
        return value.date().isoformat()
    return str(value)  # UUID, Decimal, ...


#: Every DML operation takes every RecordDMLOptions key, so that an option that does not
#: apply (a where on insert, a ttl on SQLite) reaches the checks and is refused, not dropped.
DML_PARAMS = ("table", "field_values", "where", "ttl", "timestamp", "field_conditions",
              "exist_condition", "all")


class DbDriver(Driver):
    """The db scope. Drivers set `backend` and implement the hooks."""

    scope = "db"
    operations = ops(
        Operation("list_tables", "GET", "/table", "List tables with their columns."),
        Operation("create_table", "POST", "/table", "Create a table.",
                  params=("name", "columns", "primary_key"), body=True, idempotent=False),
        Operation("describe_table", "GET", "/table/{table}", "Describe a table.",
                  params=("table",)),
        Operation("select", "GET", "/table/{table}/record", "Select records (DQL).",
                  params=("table", "dql"),
                  options={"dql": "JSON: fields, where, order_by, limit, allow_filtering"}),
        Operation("insert", "POST", "/table/{table}/record",
                  "Insert one record or a list of records in one transaction.",
                  params=DML_PARAMS, body=True, idempotent=False),
        Operation("update", "PUT", "/table/{table}/record", "Update records (DML).",
                  params=DML_PARAMS, body=True, idempotent=False),
        Operation("delete", "DELETE", "/table/{table}/record", "Delete records (DML).",
                  params=DML_PARAMS, body=True, idempotent=False),
    )
    capabilities: ClassVar[dict[str, Any]] = {
        "ttl": False, "timestamp": False, "field_conditions": True, "exist_condition": True,
        "order_by": True, "types": list(TYPES),
    }
    #: Key of this backend in TYPES.
    backend: ClassVar[str] = ""
    #: Longest table name the backend accepts.
    max_table_name: ClassVar[int] = MAX_IDENT

    # ---- public operations (validate, then call the hooks) ----

    def list_tables(self) -> list[dict[str, Any]]:
        return self._list_tables()

    def create_table(self, name: str, columns: list[Any],
                     primary_key: list[str] | None = None) -> dict[str, Any]:
        table: Table = _parse(
            Table, {"name": name, "columns": columns, "primary_key": primary_key or []},
            "table")
        check_ident(table.name, "table name", self.max_table_name)
        seen: set[str] = set()
        for c in table.columns:
            check_ident(c.name, "column name")
            if c.name.lower() in seen:
                raise BadInput(f"column {c.name!r} is given twice")
            seen.add(c.name.lower())
        for k in table.primary_key:
            if k.lower() not in seen:
                raise BadInput(f"primary key column {k!r} is not among the columns")
        self._create_table(table)
        return self.describe_table(table.name)

    def describe_table(self, table: str) -> dict[str, Any]:
        check_ident(table, "table name", self.max_table_name)
        return self._describe(table)

    def select(self, table: str, dql: Any = None) -> list[dict[str, Any]]:
        return list(self.iter_select(table, dql, stream=False))

    def iter_select(self, table: str, dql: Any = None,
                    stream: bool = True) -> Iterator[dict[str, Any]]:
        """Rows as dicts; with `stream`, straight from a backend cursor where it has one."""
        q: DQL = _parse(DQL, dql, "dql")
        check_ident(table, "table name", self.max_table_name)
        schema = self.schema(table)
        for f in q.fields or []:
            self._known(table, schema, f)
        for col in q.order_by or []:
            self._known(table, schema, parse_order(col)[0])
        where = self._coerce_where(table, schema, q.where)
        q = q.model_copy(update={"where": where})
        return (self._stream_select if stream else self._select)(table, q, schema)

    def insert(self, table: str, **options: Any) -> dict[str, Any]:
        o = self._options("insert", options)
        rows = o.field_values if isinstance(o.field_values, list) else [o.field_values]
        if not rows or any(not r for r in rows):
            raise BadInput("insert needs field_values: a record or a list of records")
        schema = self.schema(table)
        keysets = set(map(tuple, rows))
        groups: dict[tuple[str, ...], Any] = {}
        if len(keysets) == 1:  # the usual case: every record has the same columns
            groups[keysets.pop()] = range(len(rows))
        else:
            for i, row in enumerate(rows):
                groups.setdefault(tuple(row), []).append(i)
        clean = list(rows)
        for keys, idxs in groups.items():
            ptypes = [schema[self._known(table, schema, c)] for c in keys]
            members = rows if isinstance(idxs, range) else [rows[i] for i in idxs]
            columns = list(zip(*map(dict.values, members), strict=True))
            if all(_fast_ok(t, col) for t, col in zip(ptypes, columns, strict=True)):
                continue  # every value is already what the backend gets
            for i in idxs:
                try:
                    clean[i] = {c: coerce(v, t, c)
                                for (c, v), t in zip(rows[i].items(), ptypes, strict=True)}
                except BadInput as e:
                    if len(rows) == 1:
                        raise
                    raise BadInput(f"record {i + 1}: {e.message}; nothing was written",
                                   hint=e.hint) from e
        return self._insert(table, clean, o)

    def update(self, table: str, **options: Any) -> dict[str, Any]:
        o = self._options("update", options)
        if not isinstance(o.field_values, dict) or not o.field_values:
            raise BadInput("update needs field_values: one JSON object of new values")
        if not o.where:
            raise BadInput("update needs a where condition",
                           hint="e.g. --where '{\"id\": 1}'")
        schema = self.schema(table)
        values = {c: coerce(v, schema[self._known(table, schema, c)], c)
                  for c, v in o.field_values.items()}
        o = o.model_copy(update={
            "field_values": values,
            "where": self._coerce_where(table, schema, o.where),
            "field_conditions": self._coerce_where(table, schema, o.field_conditions),
        })
        return self._update(table, o)

    def delete(self, table: str, **options: Any) -> dict[str, Any]:
        o = self._options("delete", options)
        if o.field_values:
            raise BadInput("delete takes no field_values")
        if o.all and o.where:
            raise BadInput("delete takes either a where condition or all, not both")
        if not o.where and not o.all:
            raise BadInput("delete needs a where condition, or all=true to delete every record",
                           hint="pass --where JSON, or --all")
        schema = self.schema(table)
        o = o.model_copy(update={
            "where": self._coerce_where(table, schema, o.where),
            "field_conditions": self._coerce_where(table, schema, o.field_conditions),
        })
        return self._delete(table, o)

    def schema(self, table: str) -> dict[str, str]:
        """Column name → portable type (or the native type when it has no portable name)."""
        check_ident(table, "table name", self.max_table_name)
        schema = self._schema(table)
        if schema is None:
            raise NotFound(f"table not found: {table}", hint="list tables with `oca db tables`")
        return schema

    # ---- helpers ----

    def _known(self, table: str, schema: dict[str, str], col: str) -> str:
        check_ident(col, "column name")
        if col not in schema:
            fresh = self._schema(table, refresh=True) or {}
            if col not in fresh:
                raise BadInput(f"table {table} has no column {col!r}",
                               hint=f"its columns: {', '.join(schema)}")
            schema.update(fresh)
        return col

    def _coerce_where(self, table: str, schema: dict[str, str],
                      where: dict[str, Any] | None) -> dict[str, Any] | None:
        if not where:
            return where
        out: dict[str, Any] = {}
        for col, cond in where.items():
            t = schema[self._known(table, schema, col)]
            if isinstance(cond, dict):
                fixed = {}
                for op, v in cond.items():
                    if str(op).lower() not in OPERATORS:
                        raise BadInput(f"unknown where operator {op!r} on {col!r}",
                                       hint="use one of = != < <= > >= in")
                    if isinstance(v, list):
                        fixed[op] = [coerce(x, t, col) for x in v]
                    else:
                        fixed[op] = coerce(v, t, col)
                out[col] = fixed
            else:
                out[col] = coerce(cond, t, col)
        return out

    def _options(self, op: str, options: dict[str, Any]) -> RecordDMLOptions:
        o: RecordDMLOptions = _parse(RecordDMLOptions, options, "record options")
        name = self.backend or type(self).__name__
        for opt in ("ttl", "timestamp"):
            if getattr(o, opt) is not None and not self.capabilities.get(opt):
                raise BadInput(f"the {name} backend cannot honour {opt}",
                               hint=f"drop {opt}; it is supported by the cassandra driver")
        if o.ttl is not None and op == "delete":
            raise BadInput("ttl does not apply to delete")
        if op == "insert":
            if o.where or o.field_conditions:
                raise BadInput("insert takes no where or field_conditions")
            if o.exist_condition == "if_exist":
                raise BadInput("insert accepts exist_condition if_not_exist only")
            if o.all:
                raise BadInput("all applies to delete only")
        else:
            if o.exist_condition == "if_not_exist":
                raise BadInput(f"{op} accepts exist_condition if_exist only")
            if o.exist_condition and o.field_conditions:
                raise BadInput("use either exist_condition or field_conditions, not both")
            if op == "update" and o.all:
                raise BadInput("all applies to delete only")
        return o

    # ---- hooks a driver implements ----

    def _list_tables(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _create_table(self, table: Table) -> None:
        raise NotImplementedError

    def _describe(self, table: str) -> dict[str, Any]:
        raise NotImplementedError

    def _schema(self, table: str, refresh: bool = False) -> dict[str, str] | None:
        """Column types of `table`, None if there is no such table."""
        raise NotImplementedError

    def _select(self, table: str, q: DQL, schema: dict[str, str]) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    def _stream_select(self, table: str, q: DQL,
                       schema: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Rows straight from a backend cursor; by default the same as `_select`."""
        return self._select(table, q, schema)

    def _insert(self, table: str, rows: list[dict[str, Any]],
                o: RecordDMLOptions) -> dict[str, Any]:
        raise NotImplementedError

    def _update(self, table: str, o: RecordDMLOptions) -> dict[str, Any]:
        raise NotImplementedError

    def _delete(self, table: str, o: RecordDMLOptions) -> dict[str, Any]:
        raise NotImplementedError


CONTRACT = DbDriver
