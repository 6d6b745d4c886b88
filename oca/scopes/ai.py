"""The ai scope's functions, shared by the CLI and the HTTP API.

With no ai service registered, the first call starts the embedded default: the model server
(`oca.backends.ai_server`, recipe `ai`) as a `local` process named `ai-default`, with the
offline EfficientNet-Lite0 model. Later calls reuse the warm process; if it died, it is
restarted through its runtime.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from oca.errors import BadInput, NotFound, OcaError
from oca.models import Service

DEFAULT_NAME = "ai-default"
MAX_WORKERS = 32

Status = Callable[[str], None] | None


def _say(status: Status, text: str) -> None:
    if status is not None:
        status(text)


def ensure_default(status: Status = None) -> Service:
    """The embedded default ai service, registered and started on first use."""
    from filelock import FileLock

    from oca import config
    from oca.registry import Registry

    with FileLock(str(config.run_dir() / f"{DEFAULT_NAME}.lock"), timeout=300):
        for svc in Registry().list("ai"):
            if svc.name == DEFAULT_NAME:
                return svc
        from oca import ai_model

        if not ai_model.is_exported():
            _say(status, "exporting EfficientNet-Lite0 to ONNX (once per machine)...")
            ai_model.ensure_exported()
        from oca import services
        from oca.models import ServiceBase

        _say(status, "starting the local AI model server (first use)...")
        return services.add(ServiceBase(
            name=DEFAULT_NAME, scope="ai", recipe="ai", runtime="local",
            description="embedded default: local model server with EfficientNet-Lite0",
        ))


_revived: set[str] = set()


def _revive(svc: Service, status: Status = None) -> bool:
    """Restart a stopped local default (once per process); True when a retry makes sense."""
    from filelock import FileLock

    from oca import config
    from oca.runtime import get_runtime

    runtime = get_runtime("local")
    with FileLock(str(config.run_dir() / f"{DEFAULT_NAME}.lock"), timeout=300):
        if runtime.status(svc) == "running":
            return True  # restarted meanwhile (another thread or process): just retry
        if svc.id in _revived:
            return False
        _revived.add(svc.id)
        _say(status, "restarting the local AI model server...")
        runtime.start(svc)
    return True


def resolve(ref: str | None = None, status: Status = None) -> Service:
    """The ai service a call uses: named, the only one, or the embedded default."""
    from oca import services
    from oca.registry import Registry

    if not ref and not Registry().list("ai"):
        return ensure_default(status)
    return services.pick("ai", ref)


def _call(svc: Service, op: str, **params: Any) -> Any:
    """`oca.calls.call`; when the embedded default's process is gone, restart it once and
    retry (checked on failure, so a warm call never imports the runtime)."""
    from oca.calls import call
    from oca.errors import BackendUnreachable

    try:
        return call(svc, op, **params)
    except BackendUnreachable:
        if svc.name != DEFAULT_NAME or svc.runtime != "local" or not _revive(svc):
            raise
    return call(svc, op, **params)


def check_top_k(top_k: int) -> int:
    if not 1 <= top_k <= 1000:
        raise BadInput(f"--top-k must be between 1 and 1000, got {top_k}")
    return top_k


def classify_bytes(svc: Service, data: bytes, model: str | None = None,
                   top_k: int = 5) -> dict[str, Any]:
    """One image → `{"labels": [{label, score}...], "model": NAME}`."""
    if not data:
        raise BadInput("empty image: no bytes to classify")
    out = _call(svc, "predict", img=data, model=model, top_k=check_top_k(top_k))
    try:
        first = out["results"][0]
    except (KeyError, IndexError, TypeError) as e:
        raise OcaError(f"unexpected answer from the ai driver: {str(out)[:200]}") from e
    if first.get("status") != "ok":
        raise BadInput(str(first.get("result") or "the backend could not classify the image"))
    return {"labels": first.get("labels") or [{"label": first.get("result"), "score": None}],
            "model": first.get("model")}


def read_input(path: str, stdin: Any = None) -> bytes:
    """A file's bytes; `-` reads stdin."""
    if path == "-":
        import sys

        data = (stdin or sys.stdin.buffer).read()
        if not data:
            raise BadInput("stdin is empty: no image to classify",
                           hint="pipe an image, e.g. `oca ai classify - < cat.jpg`")
        return data
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError as e:
        raise NotFound(f"no such file: {path}") from e
    except IsADirectoryError as e:
        raise BadInput(f"{path} is a directory, not an image") from e
    except OSError as e:
        raise BadInput(f"cannot read {path}: {e.strerror or e}") from e


def classify(svc: Service, paths: Iterable[str], model: str | None = None, top_k: int = 5,
             workers: int | None = None, stdin_data: bytes | None = None
             ) -> Iterator[dict[str, Any]]:
    """Classify many files concurrently; yields `{file, labels, model}` or `{file, error}`
    (an OcaError) as each one finishes, in completion order."""
    check_top_k(top_k)
    paths = list(paths)
    if not paths:
        raise BadInput("no image given", hint="oca ai classify IMAGE... (or - for stdin)")

    def one(path: str) -> dict[str, Any]:
        try:
            data = stdin_data if path == "-" and stdin_data is not None else read_input(path)
            return {"file": path, **classify_bytes(svc, data, model, top_k)}
        except OcaError as e:
            return {"file": path, "error": e}

    if len(paths) == 1:
        yield one(paths[0])
        return
    from concurrent.futures import ThreadPoolExecutor, as_completed

    n = workers or min(MAX_WORKERS, len(paths), max(4, 4 * (os.cpu_count() or 1)))
    with ThreadPoolExecutor(n, thread_name_prefix="classify") as pool:
        futures = [pool.submit(one, p) for p in paths]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            for fut in futures:
                fut.cancel()


def enqueue(svc: Service, paths: list[str], model: str | None = None, top_k: int = 5,
            stdin_data: bytes | None = None) -> Iterator[dict[str, Any]]:
    """`--async`: one job per image; yields `{file, job}` tickets."""
    import importlib.util

    if importlib.util.find_spec("oca.jobs") is None:
        from oca.errors import Unavailable

        raise Unavailable("--async is not available until the job queue lands",
                          hint="run without --async")
    from oca import jobs

    check_top_k(top_k)
    for path in paths:
        data = stdin_data if path == "-" and stdin_data is not None else read_input(path)
        if not data:
            raise BadInput(f"{path}: empty image")
        params: dict[str, Any] = {"img": data, "top_k": top_k}
        if model:
            params["model"] = model
        yield {"file": path, "job": jobs.enqueue(svc, "predict", params)}


def model_names(svc: Service) -> dict[str, bool]:
    return {m["name"]: bool(m.get("loaded")) for m in models(svc).get("models", [])}


def load(svc: Service, model: str, path: str = "",
         kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    return _call(svc, "serve", name=model, path=path, kwargs=kwargs or {})


def unload(svc: Service, model: str) -> dict[str, Any]:
    return _call(svc, "unload", name=model)


def models(svc: Service) -> dict[str, Any]:
    return _call(svc, "models")


def usage(svc: Service) -> dict[str, Any]:
    return _call(svc, "usage")
