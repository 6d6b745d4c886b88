"""One error tree. Each error carries a message for a person and, where useful, a hint.

The CLI maps an error to one stderr line and an exit code; the HTTP API to a status code
and one JSON shape. Neither edge decides anything else about errors.
"""

from __future__ import annotations

from typing import Any


class OcaError(Exception):
    exit_code = 1
    http_status = 500
    type = "internal"

    def __init__(self, message: str, hint: str | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.detail = detail

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "message": self.message, "hint": self.hint}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


class NotFound(OcaError):
    exit_code = 3
    http_status = 404
    type = "not_found"


class ServiceNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"service not found: {ref}", hint="list services with `oca service ls`")


class DriverNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"driver not found: {ref}", hint="list drivers with `oca driver ls`")


class Conflict(OcaError):
    exit_code = 4
    http_status = 409
    type = "conflict"


class Forbidden(OcaError):
    """Allowed only with more trust than the caller has (e.g. installing code over HTTP)."""

    exit_code = 6
    http_status = 403
    type = "forbidden"


class Unavailable(OcaError):
    exit_code = 5
    http_status = 503
    type = "unavailable"


class EngineUnavailable(Unavailable):
    type = "engine_unavailable"


class BackendUnreachable(Unavailable):
    type = "backend_unreachable"


class DriverUnavailable(Unavailable):
    type = "driver_unavailable"


class Timeout(Unavailable):
    type = "timeout"


class BadInput(OcaError):
    exit_code = 6
    http_status = 422
    type = "invalid_input"


def error_class(type_: str, default: type[OcaError] = OcaError) -> type[OcaError]:
    """The class an error `type` names, for errors that crossed a process boundary (a driver's
    or backend's `{"error": {...}}` body, a failed job)."""
    for cls in (NotFound, Conflict, BadInput, Forbidden, Unavailable, EngineUnavailable,
                BackendUnreachable, DriverUnavailable, Timeout):
        if cls.type == type_:
            return cls
    return default


def error_from_body(body: Any, default: type[OcaError] = OcaError) -> OcaError | None:
    """The typed error an `{"error": {"type", "message", "hint"}}` body names, else None."""
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return None
    cls = error_class(str(err.get("type")), default)
    return cls(str(err.get("message")), hint=err.get("hint"))
