"""`oca driver ...`"""

from __future__ import annotations

import typer

from oca.cli import render
from oca.cli.common import group

app = group("List, inspect and add drivers.")


@app.command("ls")
def ls(scope: str = typer.Option(None, "--scope", help="Only drivers of this scope.")) -> None:
    """List native and plugin drivers.  Example: oca driver ls --scope db"""
    from oca import discovery

    rows = [d.public() for d in discovery.all_drivers() if scope is None or d.scope == scope]
    for r in rows:
        r["driver"] = f"{r['name']}-{r['version']}"
    if render.STATE.json:
        render.emit_json(rows)
    else:
        render.table(rows, ["driver", "scope", "app", "app_version_match", "source_type", "kind"])


@app.command("show")
def show(driver: str = typer.Argument(..., help="NAME-VERSION or NAME.")) -> None:
    """Show a driver, its operations and capabilities.  Example: oca driver show sqlite"""
    from oca import drivers_info

    render.result(drivers_info.describe(driver))
