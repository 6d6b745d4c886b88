"""`oca db ...`: tables and records on the db service (SQLite by default)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from oca.cli import render
from oca.cli.common import group, json_arg, json_object

app = group("Tables and records: SQLite (embedded default), PostgreSQL, Cassandra.")

SERVICE = typer.Option(None, "--service", "-s",
                       help="db service name or id (default: the only one, or SQLite).")


def _cell(v: Any) -> str:
    import json

    if v is None:
        return ""
    if isinstance(v, dict | list | bool):
        return json.dumps(v)
    return str(v).replace("\t", " ").replace("\n", " ")


def _columns_text(t: dict[str, Any]) -> str:
    return ", ".join(f"{c['name']}:{c['datatype']}" for c in t.get("columns", []))


@app.command("tables")
def tables(service: str = SERVICE) -> None:
    """List tables.  Example: oca db tables"""
    from oca.scopes import db

    rows = db.tables(service)
    if render.STATE.json:
        render.emit_json(rows)
        return
    render.table([{"name": t["name"], "columns": _columns_text(t),
                   "primary_key": t.get("primary_key") or []} for t in rows],
                 ["name", "columns", "primary_key"])


def _show_table(t: dict[str, Any]) -> None:
    if render.STATE.json:
        render.emit_json(t)
        return
    pk = t.get("primary_key") or []
    render.table([{**c, "key": "pk" if c["name"] in pk else ""} for c in t["columns"]],
                 ["name", "datatype", "native", "key"], title=t["name"])


@app.command("create-table")
def create_table(
    table: str = typer.Argument(..., help="Table name (letters, digits, '_')."),
    column: list[str] = typer.Option(..., "--column", "-c",
                                     help="NAME:TYPE; repeatable. Types: int bigint float text "
                                          "bool timestamp date uuid json."),
    primary_key: list[str] = typer.Option(None, "--primary-key", "-k",
                                          help="Primary key column; repeatable (order kept)."),
    service: str = SERVICE,
) -> None:
    """Create a table.

    Example: oca db create-table users --column id:int --column name:text --primary-key id
    """
    from oca.scopes import db

    _show_table(db.create_table(table, db.parse_columns(column), primary_key or [], service))


@app.command("describe")
def describe(table: str = typer.Argument(...), service: str = SERVICE) -> None:
    """Show a table's columns, types and primary key.  Example: oca db describe users"""
    from oca.scopes import db

    _show_table(db.describe(table, service))


@app.command("select")
def select(
    table: str = typer.Argument(...),
    where: str = typer.Option(None, "--where", "-w",
                              help='JSON: {"age": 30} or {"age": {">=": 18}}; terms ANDed.'),
    fields: str = typer.Option(None, "--fields", "-f", help="Columns to return: A,B."),
    limit: int = typer.Option(None, "--limit", "-n", min=0, help="At most N records."),
    order_by: list[str] = typer.Option(None, "--order-by", "-o",
                                       help="COL, -COL or COL:desc; repeatable."),
    allow_filtering: bool = typer.Option(False, "--allow-filtering",
                                         help="Cassandra: filter on non-key columns."),
    service: str = SERVICE,
) -> None:
    """Select records; --json streams JSON Lines.

    Example: oca db select users --where '{"age": {">": 30}}' --order-by -age --limit 10
    """
    from oca.scopes import db

    cols = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    rows = db.stream(table, json_object(where, "--where"), cols, limit, order_by or None,
                     allow_filtering, service)
    try:
        _print_rows(table, rows, cols)
    except BrokenPipeError:
        # the reader had enough (`| head`): stop pulling rows, and exit 0 like other tools
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _print_rows(table: str, rows: Any, cols: list[str] | None) -> None:
    if render.STATE.json:
        for row in rows:
            render.emit_jsonl(row)
        return
    if render.is_tty():
        data = list(rows)
        render.table(data, cols or (list(data[0]) if data else []), title=table)
        return
    header: list[str] | None = None
    out = sys.stdout
    for row in rows:
        if header is None:
            header = cols or list(row)
            out.write("\t".join(header) + "\n")
        out.write("\t".join(_cell(row.get(c)) for c in header) + "\n")
    if header is None and cols:
        out.write("\t".join(cols) + "\n")


def _count(result: dict[str, Any], verb: str) -> None:
    n = result.get("count")
    text = verb if n is None else f"{verb} {n} record{'s' if n != 1 else ''}"
    if result.get("applied") is False:
        text += " (condition not met)"
    render.result(result, text=text)


@app.command("insert")
def insert(
    table: str = typer.Argument(...),
    source: str = typer.Argument(None, metavar="-", help="'-' reads JSON Lines from stdin."),
    values: str = typer.Option(None, "--values",
                               help="A JSON object, or an array of objects."),
    file: str = typer.Option(None, "--file", "-F", help="A JSON Lines file ('-': stdin)."),
    if_not_exists: bool = typer.Option(False, "--if-not-exists",
                                       help="Skip records whose key exists (exist_condition)."),
    ttl: int = typer.Option(None, "--ttl", help="Cassandra: seconds to live."),
    timestamp: int = typer.Option(None, "--timestamp", help="Cassandra: write time (µs)."),
    service: str = SERVICE,
) -> None:
    """Insert records; many are written in one transaction (all or nothing).

    Example: oca db insert users --values '{"id": 1, "name": "ada"}'
    """
    from oca.errors import BadInput
    from oca.scopes import db

    given = [x for x in (values, file, source) if x is not None]
    if len(given) != 1:
        raise BadInput("give exactly one of --values JSON, --file FILE.jsonl or '-'",
                       hint="e.g. oca db insert users --values '{\"id\": 1}'")
    if source is not None and source != "-":
        raise BadInput(f"unexpected argument {source!r}: use --file {source} to read a file")
    if values is not None:
        data = json_arg(values, "--values")
        if isinstance(data, list) and not all(isinstance(r, dict) for r in data):
            raise BadInput("--values must be a JSON object or an array of objects")
        if not isinstance(data, dict | list):
            raise BadInput("--values must be a JSON object or an array of objects")
        records: Any = data
    elif (file or source) == "-":
        records = db.read_records(sys.stdin, "stdin")
    else:
        try:
            with open(file, encoding="utf-8") as f:  # type: ignore[arg-type]
                records = db.read_records(f, file)  # type: ignore[arg-type]
        except OSError as e:
            from oca.errors import NotFound

            raise NotFound(f"cannot read {file}: {e.strerror}") from e
    result = db.insert(table, records, ttl=ttl, timestamp=timestamp,
                       exist_condition="if_not_exist" if if_not_exists else None,
                       service=service)
    _count(result, "inserted")


@app.command("update")
def update(
    table: str = typer.Argument(...),
    set_: str = typer.Option(..., "--set", help="JSON object of new values."),
    where: str = typer.Option(..., "--where", "-w", help="JSON conditions (ANDed)."),
    if_: str = typer.Option(None, "--if", help="JSON field_conditions: only if these hold."),
    if_exists: bool = typer.Option(False, "--if-exists", help="Only existing records."),
    ttl: int = typer.Option(None, "--ttl", help="Cassandra: seconds to live."),
    timestamp: int = typer.Option(None, "--timestamp", help="Cassandra: write time (µs)."),
    service: str = SERVICE,
) -> None:
    """Update records matching --where.

    Example: oca db update users --set '{"name": "ada"}' --where '{"id": 1}'
    """
    from oca.scopes import db

    result = db.update(table, json_object(set_, "--set") or {}, json_object(where, "--where")
                       or {}, ttl=ttl, timestamp=timestamp,
                       field_conditions=json_object(if_, "--if"),
                       exist_condition="if_exist" if if_exists else None, service=service)
    _count(result, "updated")


@app.command("delete")
def delete(
    table: str = typer.Argument(...),
    where: str = typer.Option(None, "--where", "-w", help="JSON conditions (ANDed)."),
    all_: bool = typer.Option(False, "--all", help="Delete every record (no --where)."),
    if_: str = typer.Option(None, "--if", help="JSON field_conditions: only if these hold."),
    if_exists: bool = typer.Option(False, "--if-exists", help="Only existing records."),
    timestamp: int = typer.Option(None, "--timestamp", help="Cassandra: write time (µs)."),
    service: str = SERVICE,
) -> None:
    """Delete records matching --where, or every record with --all.

    Example: oca db delete users --where '{"id": 1}'
    """
    from oca.errors import BadInput
    from oca.scopes import db

    cond = json_object(where, "--where")
    if not cond and not all_:
        raise BadInput("delete needs --where JSON, or --all to delete every record")
    if cond and all_:
        raise BadInput("give --where or --all, not both")
    result = db.delete(table, cond, all=all_, timestamp=timestamp,
                       field_conditions=json_object(if_, "--if"),
                       exist_condition="if_exist" if if_exists else None, service=service)
    _count(result, "deleted")
