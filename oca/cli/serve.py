"""Top-level commands `oca serve` (alias `oca launch`) and `oca worker`."""

from __future__ import annotations

import os

import typer

from oca.cli import render
from oca.cli.common import group

app = group()

HOST = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default).")
PORT = typer.Option(8000, "--port", help="Port to listen on.")
TOKEN = typer.Option(None, "--token", envvar="OCA_API_TOKEN", show_envvar=True,
                     help="Require `Authorization: Bearer TOKEN` on every route but /.")
NO_WORKER = typer.Option(False, "--no-worker",
                         help="Do not run jobs in this process (run `oca worker` elsewhere).")
WORKERS = typer.Option(2, "--workers", min=1, max=64, help="Job worker threads.")
DEFAULTS = typer.Option(False, "--defaults",
                        help="Start the embedded ai, db and media services first (as upstream "
                             "started its default backends).")


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _start_defaults() -> None:
    import importlib

    from oca.errors import OcaError
    from oca.models import SCOPES

    for scope in SCOPES:
        try:
            with render.spinner(f"starting the default {scope} service..."):
                svc = importlib.import_module(f"oca.scopes.{scope}").ensure_default()
        except OcaError as e:
            render.info(f"warning: no default {scope} service: {e.message}")
        else:
            render.info(f"{scope}: {svc.name} ({svc.id})")


def _serve(host: str, port: int, token: str | None, no_worker: bool, workers: int,
           defaults: bool) -> None:
    if not _loopback(host) and not token:
        from oca.errors import BadInput

        raise BadInput(f"refusing to listen on {host} without a token",
                       hint="pass --token TOKEN (or set OCA_API_TOKEN), or use --host 127.0.0.1")
    try:
        import uvicorn

        from oca.api.app import create_app
    except ImportError as e:
        from oca.errors import Unavailable

        raise Unavailable(f"oca serve needs the serve extra ({e.name} is missing)",
                          hint="pip install 'oca[serve]'") from e
    from oca import jobs

    jobs.check()  # a bad or unreachable OCA_QUEUE_URL fails here, before listening
    if defaults:
        _start_defaults()
    api = create_app(token=token, worker=not no_worker, workers=workers)
    render.info(f"oca serve: http://{host}:{port} (docs at /docs)"
                + ("" if no_worker else f", {workers} job workers")
                + (", token required" if token else ""))
    uvicorn.run(api, host=host, port=port, log_level="warning" if render.STATE.json else "info",
                access_log=render.STATE.verbose > 0)


@app.command("serve")
def serve(host: str = HOST, port: int = PORT, token: str = TOKEN, no_worker: bool = NO_WORKER,
          workers: int = WORKERS, defaults: bool = DEFAULTS) -> None:
    """Serve the HTTP API (upstream oneContainer-API compatible) with a job worker.

    Example: oca serve --port 8000
    """
    _serve(host, port, token, no_worker, workers, defaults)


@app.command("launch")
def launch(host: str = HOST, port: int = PORT, token: str = TOKEN, no_worker: bool = NO_WORKER,
           workers: int = WORKERS, defaults: bool = DEFAULTS) -> None:
    """Alias of `oca serve` (upstream's command name; port 8000).

    Example: oca launch
    """
    _serve(host, port, token, no_worker, workers, defaults)


@app.command("worker")
def worker(workers: int = WORKERS) -> None:
    """Run queued jobs (the embedded SQLite queue, or Redis with OCA_QUEUE_URL).

    Example: OCA_QUEUE_URL=redis://127.0.0.1:6379/0 oca worker --workers 4
    """
    import logging

    from oca import jobs

    logging.basicConfig(level=logging.INFO if render.STATE.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    where = os.environ.get("OCA_QUEUE_URL") or "the embedded queue"
    render.info(f"oca worker: {workers} threads on {where} (pid {os.getpid()})")
    jobs.consumer(workers=workers).run()
