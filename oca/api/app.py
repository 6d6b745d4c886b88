"""The FastAPI app: routes, the one JSON error shape, lenient JSON bodies, the bearer token.

Every error answers with one shape, keeping upstream's `endpoint` and `status` keys:

    {"endpoint": "/service/abc", "status": "service not found: abc",
     "error": {"type": "not_found", "message": "service not found: abc", "hint": "..."}}

and an honest status code taken once from `OcaError.http_status` (404, 409, 422, 503...).
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from oca import __version__
from oca.errors import OcaError

TITLE = "oca: One Container API"
DESCRIPTION = (
    "One API over containerized AI, database and media backends, compatible with the REST "
    "API of oneContainer-API v0.2.0. Service-API calls take `sync` (default false: the call "
    "becomes a job, read it at `/job/{id}`) and `ttl` (seconds a job result is kept). "
    "Errors: `{endpoint, status, error: {type, message, hint}}` with 404, 409, 422 or 503."
)
_HTTP_TYPES = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
               409: "conflict", 413: "too_large", 415: "unsupported_media_type",
               422: "invalid_input", 503: "unavailable"}


def error_body(path: str, type_: str, message: str, hint: str | None = None,
               detail: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"type": type_, "message": message, "hint": hint}
    if detail is not None:
        err["detail"] = detail
    return {"endpoint": path, "status": message, "error": err}


def _validation_message(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if not errors:
        return "invalid request"
    err = errors[0]
    if err.get("type") == "json_invalid":
        ctx = err.get("ctx") or {}
        return f"invalid JSON body: {ctx.get('error', err.get('msg'))}"
    loc = [str(p) for p in err.get("loc", ()) if p != "body"] or ["body"]
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"invalid {'.'.join(loc)}: {msg}{more}"


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(OcaError)
    async def _oca(request: Request, exc: OcaError) -> JSONResponse:
        return JSONResponse(
            error_body(request.url.path, exc.type, exc.message, exc.hint, exc.detail),
            status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body(request.url.path, "invalid_input", _validation_message(exc),
                       "see the request schema at /docs"),
            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = exc.status_code
        message = exc.detail if isinstance(exc.detail, str) else "error"
        if code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        return JSONResponse(
            error_body(request.url.path, _HTTP_TYPES.get(code, "http_error"), message,
                       "see /docs for the endpoints" if code in (404, 405) else None),
            status_code=code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body(request.url.path, "internal", f"internal error: {type(exc).__name__}",
                       "see the server log, and report it"),
            status_code=500)


class Edge:
    """Pure ASGI middleware (cheap): the bearer token check and lenient JSON bodies.

    Upstream parsed JSON bodies whatever the Content-Type (`curl -d @file` sends a form
    type); requests without a multipart or JSON type are read as JSON here too.
    """

    def __init__(self, app: Any, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if self.token is not None and scope["path"] != "/":
            auth = next((v for k, v in headers if k == b"authorization"), b"")
            scheme, _, given = auth.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                body = json.dumps(error_body(
                    scope["path"], "unauthorized", "missing or wrong bearer token",
                    "send `Authorization: Bearer <token>` (the token given to `oca serve`)"
                )).encode()
                await send({"type": "http.response.start", "status": 401, "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b"Bearer"),
                    (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            ctype = next((v for k, v in headers if k == b"content-type"), b"").lower()
            if not ctype.startswith((b"multipart/", b"application/json")):
                scope = dict(scope)
                scope["headers"] = [(k, v) for k, v in headers if k != b"content-type"] + [
                    (b"content-type", b"application/json")]
        await self.app(scope, receive, send)


def _mount(app: FastAPI, router: Any, responses: dict[int | str, Any]) -> None:
    """Add a router's routes to the app itself, not as an included router: FastAPI matches
    an included router one level deeper, which cost ~0.3 ms per request here.

    `response_model=None`: results go out as the core returns them (JSON data already);
    validating them against the return annotations would cost a second thread-pool hop
    per request. Their shapes are upstream's and the core's, documented in docs/api.md.
    """
    for r in router.routes:
        app.add_api_route(r.path, r.endpoint, methods=sorted(r.methods), tags=r.tags or None,
                          summary=r.summary, description=r.description, name=r.name,
                          responses={**responses, **r.responses}, response_model=None)


def create_app(token: str | None = None, worker: bool = False, workers: int = 2) -> FastAPI:
    """The app. `worker` runs a huey consumer in this process while it serves."""
    from oca.api import management, service_api
    from oca.api.schemas import ERRORS

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        consumer = None
        if worker:
            from oca import jobs

            consumer = jobs.consumer(workers=workers, embedded=True)
            consumer.start()
        try:
            yield
        finally:
            if consumer is not None:
                consumer.stop(graceful=True)
            from oca import calls

            calls.close_all()

    app = FastAPI(title=TITLE, version=__version__, description=DESCRIPTION,
                  lifespan=lifespan, openapi_tags=[
                      {"name": "management_api", "description": "Services and drivers."},
                      {"name": "service_api", "description": "ai, db and media calls; jobs."},
                  ])
    _install_errors(app)
    for router in (management.router, service_api.router):
        _mount(app, router, ERRORS)
    token = token or os.environ.get("OCA_API_TOKEN") or None
    app.state.token_required = token is not None
    app.add_middleware(Edge, token=token)
    return app
