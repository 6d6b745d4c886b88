"""Shared bits of the command modules: a sub-command group factory and argument parsers."""

from __future__ import annotations

import json
from typing import Any

import typer

from oca.errors import BadInput


def group(help_: str = "") -> typer.Typer:
    return typer.Typer(
        help=help_,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def json_arg(value: str | None, option: str) -> Any:
    """Parse a JSON option; a failure names the option and the offending value."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError as e:
        raise BadInput(
            f"{option} is not valid JSON: {value!r} ({e.msg} at column {e.colno})"
        ) from e


def json_object(value: str | None, option: str) -> dict[str, Any] | None:
    data = json_arg(value, option)
    if data is not None and not isinstance(data, dict):
        raise BadInput(f"{option} must be a JSON object, got {value!r}")
    return data


def locations(values: list[str] | None) -> dict[str, str]:
    """`[NODE=]HOST:PORT` values into upstream's `{node: "host:port"}`."""
    from oca.models import check_location

    out: dict[str, str] = {}
    for i, v in enumerate(values or [], start=1):
        node, sep, addr = v.partition("=")
        if not sep:
            node, addr = f"node{i}", v
        try:
            out[node.strip()] = check_location(addr.strip())
        except ValueError as e:
            raise BadInput(f"invalid --location {v!r}: expected [NODE=]HOST:PORT") from e
        if not node.strip():
            raise BadInput(f"invalid --location {v!r}: empty node name")
    return out
