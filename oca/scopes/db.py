"""The db scope's functions, shared by the CLI and the HTTP API.

Each takes `service` (a name, an id, a Service, or None for the only db service / the
embedded SQLite default) and goes through `oca.calls.call`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from oca.errors import BadInput, Conflict, ServiceNotFound
from oca.models import Service

DEFAULT_NAME = "db-default"


def ensure_default() -> Service:
    """The embedded default: a SQLite file under $OCA_HOME, registered as `db-default`."""
    import sqlite3

    from oca import config, services
    from oca.models import ServiceBase
    from oca.registry import Registry

    try:
        return Registry().get(DEFAULT_NAME)
    except ServiceNotFound:
        pass
    path = config.home() / "db" / "default.sqlite"
    spec = ServiceBase(
        name=DEFAULT_NAME, scope="db", app="sqlite", app_version=sqlite3.sqlite_version,
        runtime="embedded", locations={"path": str(path)},
        description="The embedded default db: a SQLite file under $OCA_HOME.",
    )
    try:
        return services.add(spec)
    except Conflict:  # another process registered it first
        return Registry().get(DEFAULT_NAME)


_resolved: dict[tuple[str | None, str | None], tuple[tuple[int, int, int], Service]] = {}
_paths: dict[str | None, str] = {}


def resolve(service: str | Service | None = None) -> Service:
    """The db service a call uses.

    Cached per process while the registry file is unchanged: the registry is only ever
    replaced whole (new inode, new mtime), so its stat tells whether a cached answer holds.
    This saves a registry read per call on hot paths (`oca serve`, scripts, the bench).
    """
    if isinstance(service, Service):
        return service
    import os

    from oca import services

    home = os.environ.get("OCA_HOME")
    path = _paths.get(home)
    if path is None:
        from oca import config

        path = _paths[home] = str(config.registry_path())
    key = (home, service)
    try:
        st = os.stat(path)
        sig = (st.st_ino, st.st_mtime_ns, st.st_size)
    except OSError:
        sig = None
    hit = _resolved.get(key)
    if sig is not None and hit is not None and hit[0] == sig:
        return hit[1]
    svc = services.pick("db", service)
    if sig is not None:  # the stat taken before reading: a change meanwhile misses next time
        _resolved[key] = (sig, svc)
    return svc


def _call(service: str | Service | None, op: str, **params: Any) -> Any:
    from oca.calls import call

    return call(resolve(service), op, **params)


def ping(service: str | Service | None = None) -> dict[str, Any]:
    return _call(service, "ping")


def tables(service: str | Service | None = None) -> list[dict[str, Any]]:
    return _call(service, "list_tables")


def parse_columns(specs: Iterable[str]) -> list[dict[str, str]]:
    """`["id:int", "name:text"]` into Table columns."""
    out = []
    for spec in specs:
        name, sep, datatype = spec.partition(":")
        if not sep or not name.strip() or not datatype.strip():
            raise BadInput(f"invalid column {spec!r}: expected NAME:TYPE, e.g. id:int")
        out.append({"name": name.strip(), "datatype": datatype.strip()})
    return out


def create_table(table: str, columns: list[dict[str, str]] | list[str],
                 primary_key: list[str] | None = None,
                 service: str | Service | None = None) -> dict[str, Any]:
    if columns and isinstance(columns[0], str):
        columns = parse_columns(columns)  # type: ignore[arg-type]
    return _call(service, "create_table", name=table, columns=columns,
                 primary_key=primary_key or [])


def describe(table: str, service: str | Service | None = None) -> dict[str, Any]:
    return _call(service, "describe_table", table=table)


def dql(where: dict[str, Any] | None = None, fields: list[str] | None = None,
        limit: int | None = None, order_by: list[str] | str | None = None,
        allow_filtering: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if fields:
        out["fields"] = fields
    if where:
        out["where"] = where
    if order_by:
        out["order_by"] = [order_by] if isinstance(order_by, str) else order_by
    if limit is not None:
        out["limit"] = limit
    if allow_filtering:
        out["allow_filtering"] = True
    return out


def select(table: str, where: dict[str, Any] | None = None, fields: list[str] | None = None,
           limit: int | None = None, order_by: list[str] | str | None = None,
           allow_filtering: bool = False,
           service: str | Service | None = None) -> list[dict[str, Any]]:
    return _call(service, "select", table=table,
                 dql=dql(where, fields, limit, order_by, allow_filtering))


def stream(table: str, where: dict[str, Any] | None = None, fields: list[str] | None = None,
           limit: int | None = None, order_by: list[str] | str | None = None,
           allow_filtering: bool = False,
           service: str | Service | None = None) -> Iterator[dict[str, Any]]:
    """Rows one at a time: straight from the backend cursor with an in-process driver."""
    from oca import calls

    svc = resolve(service)
    q = dql(where, fields, limit, order_by, allow_filtering)
    meta = calls.driver_for(svc)
    if meta.kind == "python":
        inst = calls.instance(svc, meta)
        if hasattr(inst, "iter_select"):
            return inst.iter_select(table, q)
    return iter(calls.call(svc, "select", table=table, dql=q))


def insert(table: str, records: dict[str, Any] | Iterable[dict[str, Any]],
           ttl: int | None = None, timestamp: int | None = None,
           exist_condition: str | None = None,
           service: str | Service | None = None) -> dict[str, Any]:
    """Insert one record or many; many are written in one transaction (all or nothing)."""
    values = records if isinstance(records, dict) else list(records)
    if not values:
        raise BadInput("no records to insert")
    return _call(service, "insert", table=table,
                 **_dml(field_values=values, ttl=ttl, timestamp=timestamp,
                        exist_condition=exist_condition))


def update(table: str, values: dict[str, Any], where: dict[str, Any],
           ttl: int | None = None, timestamp: int | None = None,
           field_conditions: dict[str, Any] | None = None, exist_condition: str | None = None,
           service: str | Service | None = None) -> dict[str, Any]:
    return _call(service, "update", table=table,
                 **_dml(field_values=values, where=where, ttl=ttl, timestamp=timestamp,
                        field_conditions=field_conditions, exist_condition=exist_condition))


def delete(table: str, where: dict[str, Any] | None = None, all: bool = False,  # noqa: A002
           timestamp: int | None = None, field_conditions: dict[str, Any] | None = None,
           exist_condition: str | None = None,
           service: str | Service | None = None) -> dict[str, Any]:
    return _call(service, "delete", table=table,
                 **_dml(where=where, all=all or None, timestamp=timestamp,
                        field_conditions=field_conditions, exist_condition=exist_condition))


def _dml(**options: Any) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def read_records(stream: IO[str], source: str = "-") -> list[dict[str, Any]]:
    """JSON Lines (one object a line; blank lines skipped); a bad line names its number."""
    out = []
    for n, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise BadInput(f"{source} line {n}: not valid JSON ({e.msg}); nothing was written") \
                from e
        if not isinstance(obj, dict):
            raise BadInput(f"{source} line {n}: expected a JSON object; nothing was written")
        out.append(obj)
    return out
