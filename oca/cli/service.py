"""`oca service ...`"""

from __future__ import annotations

import typer

from oca.cli import render
from oca.cli.common import group, json_object, locations

app = group("Register, run and inspect backend services.")

COLUMNS = ["id", "name", "scope", "app", "driver", "runtime", "locations", "status"]


@app.command("add")
def add(
    name: str = typer.Argument(..., help="A unique name for the service."),
    scope: str = typer.Option(None, "--scope", help="ai, db or media (inferred when possible)."),
    recipe: str = typer.Option(None, "--recipe", help="Start a backend from compose/RECIPE."),
    image: str = typer.Option(None, "--image", help="Run any image (with --port)."),
    port: int = typer.Option(None, "--port", help="The container port of --image."),
    location: list[str] = typer.Option(None, "--location", "-l",
                                       help="[NODE=]HOST:PORT of an external backend; repeatable."),
    app_: str = typer.Option(None, "--app", help="Backend application, matched against drivers."),
    app_version: str = typer.Option(None, "--app-version", help="Backend version."),
    driver: str = typer.Option(None, "--driver", help="Driver NAME-VERSION (default: matched)."),
    meta: str = typer.Option(None, "--meta", help="Driver settings as a JSON object."),
    runtime: str = typer.Option(None, "--runtime", help="docker, local or external."),
    description: str = typer.Option(None, "--description", help="Free text."),
    timeout: float = typer.Option(None, "--timeout", help="Per-call timeout in seconds (30)."),
    retries: int = typer.Option(None, "--retries", help="Retries of transient failures (2)."),
) -> None:
    """Register a service, starting its backend when it has a recipe or image.

    Example: oca service add pg --recipe postgres
    """
    from oca import services
    from oca.models import ServiceBase, parse

    data = {
        "name": name, "scope": scope, "recipe": recipe, "image": image,
        "locations": locations(location), "meta": json_object(meta, "--meta") or {},
        "driver": driver, "description": description, "timeout": timeout, "retries": retries,
    }
    if app_:
        data["app"] = app_
    if app_version:
        data["app_version"] = app_version
    if port is not None:
        data["port"] = port
    data["runtime"] = services.choose_runtime(runtime, recipe, image, data["locations"])
    spec = parse(ServiceBase, {k: v for k, v in data.items() if v is not None})
    with render.spinner(f"starting {name}..."):
        svc = services.add(spec)
    render.result(svc.public(), text=svc.id)


@app.command("ls")
def ls(scope: str = typer.Option(None, "--scope", help="Only services of this scope.")) -> None:
    """List services.  Example: oca service ls --scope db"""
    from oca import services

    rows = [s.public() for s in services.ls(scope)]
    if render.STATE.json:
        render.emit_json(rows)
    else:
        render.table(rows, COLUMNS[:-1])


@app.command("show")
def show(service: str = typer.Argument(..., help="Name or id.")) -> None:
    """Show one service.  Example: oca service show pg"""
    from oca import services

    render.result(services.show(service).public())


@app.command("update")
def update(
    service: str = typer.Argument(..., help="Name or id."),
    name: str = typer.Option(None, "--name", help="New name."),
    description: str = typer.Option(None, "--description"),
    location: list[str] = typer.Option(None, "--location", "-l", help="Replace the locations."),
    app_: str = typer.Option(None, "--app"),
    app_version: str = typer.Option(None, "--app-version"),
    driver: str = typer.Option(None, "--driver", help="Assign a driver NAME-VERSION."),
    meta: str = typer.Option(None, "--meta", help="Replace meta with this JSON object."),
    timeout: float = typer.Option(None, "--timeout", help="Per-call timeout in seconds."),
    retries: int = typer.Option(None, "--retries", help="Retries of transient failures."),
) -> None:
    """Change fields of a service; only the options given are written.

    Example: oca service update pg --meta '{"dbname": "shop"}'
    """
    from oca import services
    from oca.models import ServiceUpdate, parse

    data = {"name": name, "description": description, "app": app_, "app_version": app_version,
            "driver": driver, "meta": json_object(meta, "--meta"), "timeout": timeout,
            "retries": retries, "locations": locations(location) if location else None}
    changes = parse(ServiceUpdate, {k: v for k, v in data.items() if v is not None})
    svc = services.update(service, changes)
    render.result(svc.public(), text=svc.id)


@app.command("rm")
def rm(
    service: str = typer.Argument(..., help="Name or id."),
    purge: bool = typer.Option(False, "--purge", help="Also delete the backend's data."),
) -> None:
    """Remove a service and its containers or processes.  Example: oca service rm pg --purge"""
    from oca import services

    svc = services.remove(service, purge=purge)
    render.result({"removed": svc.id, "name": svc.name}, text=f"removed {svc.name} ({svc.id})")


@app.command("ping")
def ping(service: str = typer.Argument(..., help="Name or id.")) -> None:
    """Check a service through its driver's real protocol.  Example: oca service ping pg"""
    from oca import services

    result = services.ping(service)
    render.result(result, text="healthy" if not isinstance(result, dict) else None)


@app.command("start")
def start(service: str = typer.Argument(..., help="Name or id.")) -> None:
    """Start a stopped service and wait until it is ready.  Example: oca service start pg"""
    from oca import services

    svc = services.start(service)
    render.result({"started": svc.id, "name": svc.name}, text=f"started {svc.name}")


@app.command("stop")
def stop(service: str = typer.Argument(..., help="Name or id.")) -> None:
    """Stop a service, keeping its data.  Example: oca service stop pg"""
    from oca import services

    svc = services.stop(service)
    render.result({"stopped": svc.id, "name": svc.name}, text=f"stopped {svc.name}")


@app.command("logs")
def logs(
    service: str = typer.Argument(..., help="Name or id."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
    tail: int = typer.Option(100, "--tail", help="Lines from the end."),
) -> None:
    """Print a service's backend logs.  Example: oca service logs pg --tail 20"""
    from oca import services

    render.lines(services.logs(service, follow=follow, tail=tail))
