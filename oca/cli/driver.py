"""`oca driver ...`"""

from __future__ import annotations

import typer

from oca.cli import render
from oca.cli.common import group, json_object, locations

app = group("List, inspect, scaffold, add and test drivers.")


@app.command("ls")
def ls(scope: str = typer.Option(None, "--scope", help="Only drivers of this scope.")) -> None:
    """List native and plugin drivers.  Example: oca driver ls --scope db"""
    from oca import discovery

    rows = [d.public() for d in discovery.all_drivers() if scope is None or d.scope == scope]
    for r in rows:
        r["driver"] = f"{r['name']}-{r['version']}"
    for where, why in discovery.problems:
        render.info(f"warning: plugin skipped: {why}" if where in why else
                    f"warning: plugin skipped: {where}: {why}")
    if render.STATE.json:
        render.emit_json(rows)
    else:
        render.table(rows, ["driver", "scope", "app", "app_version_match", "source_type", "kind"])


@app.command("show")
def show(driver: str = typer.Argument(..., help="NAME-VERSION or NAME.")) -> None:
    """Show a driver, its operations and capabilities.  Example: oca driver show echo-db"""
    from oca import drivers_info

    info = drivers_info.describe(driver)
    if render.STATE.json:
        render.emit_json(info)
        return
    render.record({k: v for k, v in info.items() if k not in ("operations", "capabilities")})
    typer.echo("")
    render.table([{**op, "params": ",".join(op["params"]),
                   "options": ", ".join(f"{k}: {v}" for k, v in op["options"].items())}
                  for op in info["operations"]],
                 ["name", "method", "path", "params", "summary", "options"], title="operations")
    if info["capabilities"]:
        typer.echo("")
        render.table([{"capability": k, "value": v} for k, v in info["capabilities"].items()],
                     ["capability", "value"], title="capabilities")


@app.command("new")
def new(
    name: str = typer.Argument(..., help="Driver name, e.g. mariadb-driver."),
    scope: str = typer.Option(..., "--scope", help="ai, db or media."),
    directory: str = typer.Option(".", "--dir", help="Parent folder of the new driver folder."),
    kind: str = typer.Option("python", "--kind",
                             help="python (runs in-process) or container (a Dockerfile)."),
    app_: str = typer.Option(None, "--app", help="Backend app it matches (default: NAME)."),
) -> None:
    """Scaffold a driver that runs and passes the contract tests as is (echo behaviour).

    Example: oca driver new mariadb-driver --scope db --dir .
    """
    from oca import plugins

    path = plugins.new(name, scope, directory, kind, app_)  # type: ignore[arg-type]
    render.info(f"next: fill in {path / 'driver.py'} (see {path / 'README.md'}), then\n"
                f"  oca driver add {path}\n  oca driver test {name}")
    render.result({"path": str(path), "name": name, "scope": scope, "kind": kind},
                  text=str(path))


@app.command("add")
def add(
    source: str = typer.Argument(..., help="A driver folder or a git URL (URL#REF for a ref)."),
    force: bool = typer.Option(False, "--force", help="Replace a plugin of the same version."),
) -> None:
    """Validate, build (container drivers) and register a plugin driver.

    Example: oca driver add ./mariadb-driver
    """
    from oca import plugins
    from oca.errors import OcaError

    try:
        with render.progress(f"adding {source}") as advance:
            meta = plugins.add(source, force=force, progress=advance)
    except OcaError as e:
        if isinstance(e.detail, list):  # a failed image build: show its last lines
            render.info("build output (last lines):\n" + "\n".join(map(str, e.detail)))
        raise
    render.info(f"added {meta.ref} ({meta.kind}, scope {meta.scope}); services with app "
                f"{meta.app!r} and a version matching {meta.app_version_match!r} now pick it")
    render.result({**meta.public(), "ref": meta.ref, "path": meta.path}, text=meta.ref)


@app.command("rm")
def rm(
    driver: str = typer.Argument(..., help="NAME-VERSION or NAME of a plugin driver."),
    force: bool = typer.Option(False, "--force", help="Even if services still use it."),
) -> None:
    """Unregister a plugin driver.  Example: oca driver rm mariadb-driver-0.1.0"""
    from oca import plugins

    meta = plugins.remove(driver, force=force)
    render.result({"removed": meta.ref}, text=f"removed {meta.ref}")


@app.command("test")
def test(
    driver: str = typer.Argument(..., help="NAME-VERSION or NAME."),
    location: list[str] = typer.Option(None, "--location", "-l",
                                       help="[NODE=]HOST:PORT of a backend to test against."),
    meta: str = typer.Option(None, "--meta", help="Driver settings as a JSON object."),
    service: str = typer.Option(None, "--service",
                                help="Test against this service's backend (locations, meta)."),
    rest: bool = typer.Option(False, "--rest",
                              help="Python drivers: go through the REST app, not direct calls."),
) -> None:
    """Run the scope's contract test suite against a driver, native or plugin.

    Example: oca driver test echo-db
    """
    from oca import plugins
    from oca.errors import OcaError

    def show(row: dict) -> None:
        mark = "ok  " if row["ok"] else "FAIL"
        render.info(f"{mark} {row['operation']}: {row['check']}"
                    + ("" if row["ok"] else f" -- {row['error']}"))

    report = plugins.test(driver, list(locations(location).values()),
                          json_object(meta, "--meta"), service, rest,
                          progress=None if render.STATE.json else show)
    total = len(report["checks"])
    bad = [r for r in report["checks"] if not r["ok"]]
    if render.STATE.json:
        render.emit_json(report)
        if bad:
            raise typer.Exit(1)
        return
    if report["untested"]:
        render.info(f"not exercised by the suite: {', '.join(report['untested'])}")
    if not bad:
        render.result(report, text=f"{report['driver']}: {total} contract checks passed "
                                   f"({report['via']})")
        return
    ops = ", ".join(dict.fromkeys(r["operation"] for r in bad))
    raise OcaError(f"{report['driver']} failed {len(bad)} of {total} contract checks: {ops}",
                   hint=f"first failure: {bad[0]['operation']}: {bad[0]['error']}")
