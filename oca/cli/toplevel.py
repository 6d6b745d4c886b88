"""Top-level commands beside the groups: up, down, doctor."""

from __future__ import annotations

import typer

from oca.cli import render
from oca.cli.common import group

app = group()

STACK_COLUMNS = ["name", "recipe", "runtime", "locations", "status", "error"]


def _stack_rows(rows: list[dict]) -> None:
    if render.STATE.json:
        render.emit_json(rows)
    else:
        render.table(rows, STACK_COLUMNS)


@app.command("up")
def up(recipes: list[str] = typer.Argument(None, help="Recipes to start (default: all).")) -> None:
    """Start the default stack (or the recipes named) and check each part is healthy.

    Example: oca up redis postgres
    """
    from oca import stack

    with render.spinner("starting the stack..."):
        rows = stack.up(recipes or None)
    _stack_rows(rows)
    failed = [r for r in rows if r["status"] != "healthy"]
    if failed:
        render.info(f"error: {len(failed)} of {len(rows)} parts are not healthy")
        raise typer.Exit(max(int(r.get("exit_code") or 5) for r in failed))


@app.command("down")
def down(
    rm: bool = typer.Option(False, "--rm", help="Remove the services, not only stop them."),
    purge: bool = typer.Option(False, "--purge", help="With --rm: delete their data too."),
) -> None:
    """Stop what `oca up` started (data is kept).  Example: oca down"""
    from oca import stack

    rows = stack.down(remove=rm, purge=purge)
    _stack_rows(rows)
    if any(r["status"] == "failed" for r in rows):
        raise typer.Exit(5)


@app.command("doctor")
def doctor() -> None:
    """Check engine, compose, base image, ports and ffmpeg, with a fix for each failure.

    Example: oca doctor
    """
    from oca.doctor import checks

    rows = checks()
    if render.STATE.json:
        render.emit_json(rows)
    else:
        render.table([{**r, "ok": "ok" if r["ok"] else "FAIL"} for r in rows],
                     ["check", "ok", "detail", "hint"])
    if any(r["required"] and not r["ok"] for r in rows):
        raise typer.Exit(5)
