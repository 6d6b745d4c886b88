"""One factory turning any python driver class into its scope's REST app.

The app speaks upstream's driver protocol: the scope's driver paths (`/ping`, `/table/{table}`,
`/predict`...), the `Hosts` header (comma-separated `host:port`) and the `Metadata` header
(JSON object, or `null` for the driver's default). It is the exact inverse of the HTTP
transport in `oca.calls`: path placeholders from the path, query parameters for GET, a JSON
object body otherwise (its keys are the method's keyword arguments), an upload as the
multipart file field `img`. Errors are `{"error": {"type", "message", "hint"}}` with the
status of the oca.errors class.

Run one as a process (in a container or locally):
    python -m oca.contract.rest driver.py:MyDriver --host 0.0.0.0 --port 5055
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import threading
import typing
from collections import OrderedDict
from pathlib import Path
from typing import Any

from oca.contract.base import Driver, Operation
from oca.errors import BadInput, OcaError

DRIVER_PORT = 5055


def error_body(e: OcaError) -> dict[str, Any]:
    return {"error": e.to_dict()}


def _wants_str(annotation: Any) -> bool:
    if annotation is str:
        return True
    args = typing.get_args(annotation)
    return bool(args) and str in args and not any(a in (int, float, bool, dict, list)
                                                  for a in args)


def _decode(value: str, annotation: Any) -> Any:
    """Query/form values: strings stay strings where the method wants one, else JSON."""
    if _wants_str(annotation):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class _Instances:
    """Driver instances per (Hosts, Metadata): one per service, like the in-process path."""

    def __init__(self, cls: type[Driver], default_meta: dict[str, Any], size: int = 16) -> None:
        self.cls = cls
        self.default_meta = default_meta
        self.size = size
        self.cache: OrderedDict[tuple[str, str], Driver] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, hosts_header: str | None, meta_header: str | None) -> Driver:
        key = (hosts_header or "", meta_header or "")
        with self.lock:
            inst = self.cache.get(key)
            if inst is not None:
                self.cache.move_to_end(key)
                return inst
        hosts = [h.strip() for h in (hosts_header or "").split(",") if h.strip()]
        meta: Any = None
        if meta_header:
            try:
                meta = json.loads(meta_header)
            except ValueError as e:
                raise BadInput("Metadata header is not valid JSON") from e
        if meta is None:
            meta = dict(self.default_meta)
        if not isinstance(meta, dict):
            raise BadInput("Metadata header is not a JSON object")
        inst = self.cls(hosts, meta)
        with self.lock:
            self.cache[key] = inst
            while len(self.cache) > self.size:
                _, old = self.cache.popitem(last=False)
                old.close()
        return inst

    def close(self) -> None:
        for inst in self.cache.values():
            inst.close()
        self.cache.clear()


def create_app(driver_cls: type[Driver], default_meta: dict[str, Any] | None = None,
               title: str | None = None) -> Any:
    """The scope's REST app for `driver_cls`: one route per declared operation."""
    from fastapi import FastAPI, Request
    from fastapi.encoders import jsonable_encoder
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool

    instances = _Instances(driver_cls, default_meta or {})

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        instances.close()

    app = FastAPI(title=title or driver_cls.__name__, docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.instances = instances

    def failure(e: Exception, request: Request) -> JSONResponse:
        if isinstance(e, OcaError):
            return JSONResponse(error_body(e), status_code=e.http_status)
        if isinstance(e, NotImplementedError):
            err = OcaError(f"driver {driver_cls.__name__} does not implement "
                           f"{request.method} {request.url.path}")
            err.type = "not_implemented"
            return JSONResponse(error_body(err), status_code=501)
        err = OcaError(f"driver {driver_cls.__name__} failed: {type(e).__name__}: {e}")
        return JSONResponse(error_body(err), status_code=500)

    def route(op: Operation) -> Any:
        # Resolved once per operation: annotations (how to decode query/form values) and the
        # signature (to refuse unknown or missing parameters before calling the driver).
        method_of_class = getattr(driver_cls, op.name)
        try:
            hints = typing.get_type_hints(method_of_class)
        except Exception:  # noqa: BLE001 - unresolvable annotations: decode as JSON
            hints = {}
        signature = inspect.signature(method_of_class)

        async def endpoint(request: Request) -> Any:
            try:
                return await handle(request)
            except Exception as e:  # noqa: BLE001 - every failure becomes the JSON error shape
                return failure(e, request)

        async def handle(request: Request) -> Any:
            inst = instances.get(request.headers.get("hosts"), request.headers.get("metadata"))
            method = getattr(inst, op.name)
            params: dict[str, Any] = dict(request.path_params)
            for k, v in request.query_params.items():
                params[k] = _decode(v, hints.get(k))
            ctype = request.headers.get("content-type", "")
            if op.upload and ctype.startswith("multipart/"):
                form = await request.form()
                for k, v in form.multi_items():
                    if hasattr(v, "read"):
                        params[op.upload if k == "img" else k] = await v.read()
                    else:
                        params[k] = _decode(v, hints.get(k))
            else:
                raw = await request.body()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError as e:
                        raise BadInput(f"{op.name}: the body is not valid JSON ({e})") from e
                    if not isinstance(body, dict):
                        raise BadInput(f"{op.name}: the body must be a JSON object of "
                                       "parameters")
                    params.update(body)
            if op.upload and op.upload in hints and op.upload not in params:
                raise BadInput(f"{op.name}: missing multipart file field 'img'")
            try:
                signature.bind(inst, **params)
            except TypeError as e:
                raise BadInput(f"{op.name}: {e}") from e
            result = await run_in_threadpool(method, **params)
            try:
                body = json.dumps(result, separators=(",", ":"), allow_nan=False)
            except (TypeError, ValueError):
                body = json.dumps(jsonable_encoder(result), separators=(",", ":"))
            return Response(body, media_type="application/json")

        endpoint.__name__ = op.name
        endpoint.__annotations__ = {"request": Request, "return": Any}
        return endpoint

    for op in driver_cls.operations.values():
        app.add_api_route(op.path, route(op), methods=[op.method], name=op.name,
                          summary=op.summary)
    return app


def load_target(target: str) -> tuple[type[Driver], dict[str, Any]]:
    """`file.py:Class`, `module:Class`, or a driver folder with an entrypoint in metadata.json."""
    from oca import discovery

    path = Path(target)
    if path.is_dir():
        meta = discovery.read_metadata(path, "plugin")
        return discovery.load_driver_class(meta), dict(meta.meta)
    file, _, cls_name = target.rpartition(":")
    if not file or not cls_name:
        raise BadInput(f"expected FILE.py:Class or module:Class, got {target!r}")
    if file.endswith(".py"):
        module: Any = discovery.import_file(Path(file))
    else:
        import importlib

        module = importlib.import_module(file)
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type) or not issubclass(cls, Driver):
        raise BadInput(f"{target}: {cls_name} is not a driver class")
    return cls, dict(getattr(cls, "metadata", {}).get("meta", {}))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m oca.contract.rest",
                                description="Serve a python driver over the REST contract.")
    p.add_argument("target", help="FILE.py:Class, module:Class, or a driver folder")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DRIVER_PORT)
    p.add_argument("--data", help="ignored (accepted like every oca backend)")
    args = p.parse_args(argv)
    import uvicorn

    cls, meta = load_target(args.target)
    uvicorn.run(create_app(cls, meta), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
