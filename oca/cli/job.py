"""`oca job ...`: queued calls (from `--async` or `oca serve`)."""

from __future__ import annotations

import typer

from oca.cli import render
from oca.cli.common import group

app = group("Queued calls: list, show, wait for, cancel.")

COLUMNS = ["id", "status", "queue", "op", "position", "created"]


def _row(job: dict) -> dict:
    import datetime as dt

    ts = job.get("created_at")
    created = dt.datetime.fromtimestamp(ts).isoformat(timespec="seconds") if ts else ""
    return {**job, "created": created}


def _show(job: dict) -> None:
    if render.STATE.json:
        render.emit_json(job)
        return
    render.record({k: v for k, v in job.items() if v is not None})


@app.command("ls")
def ls(limit: int = typer.Option(50, "--limit", min=1, max=1000, help="Most recent N.")) -> None:
    """List recent jobs, newest first.  Example: oca job ls --limit 10"""
    from oca import jobs

    rows = jobs.ls(limit)
    if render.STATE.json:
        render.emit_json(rows)
    else:
        render.table([_row(j) for j in rows], COLUMNS)


@app.command("show")
def show(job_id: str = typer.Argument(..., help="The job id.")) -> None:
    """Show a job: status, position, result or error.  Example: oca job show 6ad1fd81-..."""
    from oca import jobs

    _show(jobs.get(job_id))


@app.command("wait")
def wait(
    job_id: str = typer.Argument(..., help="The job id."),
    timeout: float = typer.Option(None, "--timeout", min=0, help="Give up after S seconds."),
) -> None:
    """Wait until a job ends; print its result (a failed job exits with its error's code).

    Example: oca job wait 6ad1fd81-... --timeout 60
    """
    from oca import jobs

    job = jobs.wait(job_id, timeout=timeout)
    if job["status"] != "finished":
        raise jobs.job_error(job)
    render.result(job["result"])


@app.command("cancel")
def cancel(job_id: str = typer.Argument(..., help="The job id.")) -> None:
    """Cancel a queued job (a started one runs to its end).  Example: oca job cancel 6ad1fd81-..."""
    from oca import jobs

    job = jobs.cancel(job_id)
    render.result(job, text=f"canceled {job_id}")
