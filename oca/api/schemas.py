"""Request bodies of the HTTP API: upstream oneContainer-API's models, kept lenient.

Field names and titles follow upstream (`ServiceCreate`, `AIModelMeta`, `Table`, `Pipeline`...)
so that upstream clients and payloads work unchanged. Validation of the values themselves
(names, locations, identifiers) happens in the core, where the CLI gets the same checks.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from oca import models

# db and media bodies are the scope contracts' own models: one declaration for CLI and HTTP.
from oca.contract.db import Column, RecordDMLOptions, Table  # noqa: F401
from oca.contract.media import InputFile, Pipeline  # noqa: F401


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ServiceCreate(_Lenient):
    """Register a backend that runs somewhere (its `locations`)."""

    name: str
    description: str | None = None
    version: str = "v1"
    app: str = ""
    app_version: str = "0"
    driver: str | None = None
    locations: dict[str, str] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)
    scope: Literal["ai", "db", "media"] | None = None
    timeout: float | None = Field(default=None, gt=0, le=3600)
    retries: int | None = Field(default=None, ge=0, le=10)


class ServiceUpdate(models.ServiceUpdate):
    """A partial update: only the keys present are written (the core's model, lenient)."""

    model_config = ConfigDict(extra="ignore")


class DriverCreate(_Lenient):
    name: str
    source_type: Literal["native", "plugin"] = "native"
    location: str | None = None


class AIModelMeta(_Lenient):
    name: str
    path: str = ""
    kwargs: dict[str, Any] | None = None


class ModelName(_Lenient):
    name: str


class ErrorDetail(BaseModel):
    type: str = Field(description="not_found, conflict, invalid_input, unavailable, ...")
    message: str
    hint: str | None = None
    detail: Any = None


class ErrorBody(BaseModel):
    """Every error: upstream's `endpoint` and `status` keys, plus oca's `error` object."""

    endpoint: str = Field(description="The request path.")
    status: str = Field(description="The error message (upstream's key).")
    error: ErrorDetail


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text} for code, text in (
        (401, "Missing or wrong bearer token (when `oca serve` has one)."),
        (403, "Not allowed without a token (installing drivers over HTTP)."),
        (404, "No such service, driver, job, table or pipeline."),
        (409, "Already exists, or not in a state that allows it."),
        (422, "Invalid input: body, parameters, identifiers, unsupported options."),
        (503, "The backend, its driver or the queue is unreachable, or timed out."),
    )
}

