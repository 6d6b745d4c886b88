"""`oca ai ...`: classify images, load models, list them, show usage."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import Any

import typer

from oca.cli import render
from oca.cli.common import group, json_object

app = group("Classify images with an AI service.")

SERVICE = typer.Option(None, "--service", "-s", help="AI service name or id (default: the "
                       "only one, or the embedded local model server).")


class _LazySpinner:
    """A spinner on stderr that appears only once something slow is announced, so a warm
    call never pays for importing rich. Like render.spinner: silent when not a terminal."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._status: Any = None
        self._started = False

    def __call__(self, text: str) -> None:
        if not self._started:
            self._started = True
            self._status = self._stack.enter_context(render.spinner(text))
        elif self._status is not None:
            self._status.update(text)

    def __enter__(self) -> _LazySpinner:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()


def _pct(score: Any) -> str:
    return "?" if score is None else f"{100 * float(score):.1f}%"


def _ensure_model(svc: Any, model: str | None, status: _LazySpinner) -> None:
    from oca.scopes import ai

    if model and not ai.model_names(svc).get(model):
        status(f"loading model {model} on {svc.name}...")
        ai.load(svc, model)


@app.command("classify")
def classify(
    images: list[str] = typer.Argument(..., help="Image files; - reads one from stdin."),
    service: str = SERVICE,
    model: str = typer.Option(None, "--model", "-m", help="Model name (default: the "
                              "service's default, efficientnet-lite0)."),
    top_k: int = typer.Option(5, "--top-k", "-k", help="How many labels per image."),
    async_: bool = typer.Option(False, "--async", help="Queue one job per image and print "
                                "the job tickets (see `oca job wait`)."),
    workers: int = typer.Option(None, "--workers", help="Parallel uploads (default: up to "
                                "32)."),
) -> None:
    """Classify images; many files are sent concurrently and printed as they finish.

    Example: oca ai classify examples/images/cat.jpg --top-k 3
    """
    from oca.errors import BadInput, NotFound, OcaError
    from oca.scopes import ai

    ai.check_top_k(top_k)
    stdin_data = ai.read_input("-") if "-" in images else None
    with _LazySpinner() as status:
        svc = ai.resolve(service, status)
        _ensure_model(svc, model, status)
    if async_:
        for ticket in ai.enqueue(svc, images, model, top_k, stdin_data):
            if render.STATE.json:
                render.emit_jsonl(ticket)
            else:
                sys.stdout.write(f"{ticket['file']}\t{ticket['job']['id']}\n")
        return
    failed: OcaError | None = None
    single = len(images) == 1
    for r in ai.classify(svc, images, model, top_k, workers=workers, stdin_data=stdin_data):
        err = r.get("error")
        if err is not None:
            if single or not isinstance(err, BadInput | NotFound):
                raise err  # one image, or the service itself failed: stop here
            failed = failed or err
            if render.STATE.json:
                render.emit_jsonl({"file": r["file"], "error": err.to_dict()})
            else:
                sys.stderr.write(f"error: {r['file']}: {err.message}\n")
            continue
        if render.STATE.json:
            render.emit_jsonl({"file": r["file"], "labels": r["labels"], "model": r["model"]})
        else:
            labels = ", ".join(f"{x['label']} ({_pct(x.get('score'))})" for x in r["labels"])
            sys.stdout.write(f"{r['file']}: {labels}\n")
            sys.stdout.flush()
    if failed is not None:
        raise typer.Exit(failed.exit_code)


@app.command("load")
def load(
    model: str = typer.Argument(..., help="Model name (known to the service, or the name "
                                "to give a model loaded from --path)."),
    service: str = SERVICE,
    path: str = typer.Option(None, "--path", help="A local .onnx / TorchScript file, or a "
                             "torch-hub repo owner/repo:ref."),
    kwargs: str = typer.Option(None, "--kwargs", help="JSON object: hub arguments, or "
                               "preprocessing (size, resize, mean, std, labels)."),
) -> None:
    """Load a model on an AI service (a spinner shows while it loads).

    Example: oca ai load efficientnet-lite0
    """
    from oca.scopes import ai

    args = json_object(kwargs, "--kwargs") or {}
    with _LazySpinner() as status:
        svc = ai.resolve(service, status)
        status(f"loading model {model} on {svc.name}...")
        out = ai.load(svc, model, path or "", args)
    render.result(out, text=str(out.get("result", out)))


@app.command("unload")
def unload(model: str = typer.Argument(..., help="Model name."), service: str = SERVICE) -> None:
    """Unload a model to free memory.  Example: oca ai unload efficientnet-lite0"""
    from oca.scopes import ai

    with _LazySpinner() as status:
        svc = ai.resolve(service, status)
    out = ai.unload(svc, model)
    render.result(out, text=str(out.get("result", out)))


@app.command("models")
def models(service: str = SERVICE) -> None:
    """List the models a service knows, loaded or not.  Example: oca ai models"""
    from oca.scopes import ai

    with _LazySpinner() as status:
        svc = ai.resolve(service, status)
    out = ai.models(svc)
    if render.STATE.json:
        render.emit_json(out)
        return
    rows = [{**m, "default": "*" if m.get("name") == out.get("default") else ""}
            for m in out.get("models", [])]
    render.table(rows, ["name", "default", "loaded", "format", "input_size", "source"])


@app.command("usage")
def usage(service: str = SERVICE) -> None:
    """What the service serves, with its counters.  Example: oca ai usage"""
    from oca.scopes import ai

    with _LazySpinner() as status:
        svc = ai.resolve(service, status)
    render.result({"service": svc.name, **ai.usage(svc)})
