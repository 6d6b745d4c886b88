"""Output for people and for scripts: tables on a terminal, stable text when piped, JSON on --json.

Diagnostics, progress and errors go to stderr; stdout carries only results.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from oca.errors import OcaError


@dataclass
class State:
    json: bool = False
    verbose: int = 0


STATE = State()


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False,
                   soft_wrap=False)


def is_tty() -> bool:
    return sys.stdout.isatty()


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=str) + "\n")
    sys.stdout.flush()


def emit_jsonl(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dict):
        return ",".join(f"{k}={x}" for k, x in v.items())
    if isinstance(v, list | tuple):
        return ",".join(str(x) for x in v)
    return str(v)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str | None = None) -> None:
    """A rich table on a terminal; tab-separated lines with a header when piped."""
    if not is_tty():
        out = ["\t".join(columns)]
        out += ["\t".join(_cell(r.get(c)) for c in columns) for r in rows]
        sys.stdout.write("\n".join(out) + "\n")
        return
    from rich.table import Table

    t = Table(title=title, show_edge=False, header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*(_cell(r.get(c)) for c in columns))
    _console().print(t)


def record(data: dict[str, Any]) -> None:
    """One record as `key: value` lines."""
    width = max((len(k) for k in data), default=0)
    for k, v in data.items():
        text = json.dumps(v) if isinstance(v, dict | list) else _cell(v)
        sys.stdout.write(f"{k.ljust(width)}  {text}\n")


def result(obj: Any, text: str | None = None) -> None:
    """A command's result: JSON with --json, else `text` (or a readable rendering)."""
    if STATE.json:
        emit_json(obj)
    elif text is not None:
        sys.stdout.write(text + "\n")
    elif isinstance(obj, dict):
        record(obj)
    else:
        sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def info(message: str) -> None:
    """A diagnostic line on stderr (silent with --json)."""
    if not STATE.json:
        sys.stderr.write(message + "\n")


def error(e: OcaError) -> None:
    if STATE.json:
        emit_json({"error": e.to_dict()})
        return
    first, _, rest = e.message.partition("\n")
    sys.stderr.write(f"error: {first}\n")
    if rest and STATE.verbose:
        sys.stderr.write(rest + "\n")
    if e.hint:
        sys.stderr.write(f"hint: {e.hint}\n")


@contextmanager
def spinner(text: str) -> Any:
    """A spinner on stderr while `text` happens; nothing when stderr is not a terminal."""
    if not sys.stderr.isatty() or STATE.json:
        yield None
        return
    with _console(stderr=True).status(text) as status:
        yield status


@contextmanager
def progress(description: str, total: float | None = None) -> Any:
    """A progress bar on stderr; yields `advance(n=1, total=None, description=None)`."""
    if not sys.stderr.isatty() or STATE.json:
        yield lambda *a, **k: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                  console=_console(stderr=True), transient=True) as p:
        task = p.add_task(description, total=total)

        def advance(n: float = 0, total: float | None = None, description: str | None = None,
                    completed: float | None = None) -> None:
            p.update(task, advance=n or None, total=total, description=description,
                     completed=completed)

        yield advance


def lines(items: Iterable[str]) -> None:
    for line in items:
        sys.stdout.write(line if line.endswith("\n") else line + "\n")
        sys.stdout.flush()
