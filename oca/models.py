"""The records oca stores and exchanges: services and driver descriptions.

Field names follow upstream oneContainer-API's service record so that the HTTP API stays
compatible; oca adds `scope`, `runtime`, `image`/`recipe`, resiliency settings and timestamps.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Scope = Literal["ai", "db", "media"]
Runtime = Literal["docker", "local", "external", "embedded"]
SCOPES: tuple[str, ...] = ("ai", "db", "media")

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
LOCATION_RE = re.compile(r"^(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>[0-9]{1,5})$")
SECRET_KEYS = re.compile(r"pass|secret|token|key|credential", re.IGNORECASE)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_name(value: str, what: str = "name") -> str:
    if not NAME_RE.match(value):
        raise ValueError(
            f"invalid {what} {value!r}: use 1-63 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return value


def check_location(value: str) -> str:
    m = LOCATION_RE.match(value)
    if not m or not 0 < int(m.group("port")) < 65536:
        raise ValueError(f"invalid location {value!r}: expected HOST:PORT")
    return value


def redact(meta: dict[str, Any]) -> dict[str, Any]:
    """A copy of `meta` with secret-looking values replaced, for listings and logs."""
    out: dict[str, Any] = {}
    for k, v in meta.items():
        if SECRET_KEYS.search(k):
            out[k] = "***"
        elif isinstance(v, dict):
            out[k] = redact(v)
        else:
            out[k] = v
    return out


class ServiceBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str | None = None
    version: str = "v1"
    scope: Scope | None = None
    app: str = ""
    app_version: str = "0"
    driver: str | None = None
    locations: dict[str, str] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)
    runtime: Runtime = "external"
    image: str | None = None
    port: int | None = Field(default=None, gt=0, lt=65536)
    recipe: str | None = None
    timeout: float = Field(default=30.0, gt=0, le=3600)
    retries: int = Field(default=2, ge=0, le=10)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v)

    @field_validator("locations")
    @classmethod
    def _locations(cls, v: dict[str, str]) -> dict[str, str]:
        for node, loc in v.items():
            if not node:
                raise ValueError("empty node label in locations")
            # Embedded services (e.g. a SQLite file) keep a path, not an address.
            if node != "path":
                check_location(loc)
        return v


class Service(ServiceBase):
    id: str
    created_at: str = Field(default_factory=now)
    updated_at: str = Field(default_factory=now)

    def hosts(self) -> list[str]:
        return list(self.locations.values())

    def public(self) -> dict[str, Any]:
        """The record as shown to users and list endpoints: secrets in meta redacted."""
        data = self.model_dump()
        data["meta"] = redact(self.meta)
        return data


class ServiceUpdate(BaseModel):
    """A partial update: only fields that are set are written."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: str | None = None
    version: str | None = None
    app: str | None = None
    app_version: str | None = None
    driver: str | None = None
    locations: dict[str, str] | None = None
    meta: dict[str, Any] | None = None
    timeout: float | None = Field(default=None, gt=0, le=3600)
    retries: int | None = Field(default=None, ge=0, le=10)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        return None if v is None else check_name(v)

    @field_validator("locations")
    @classmethod
    def _locations(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for node, loc in (v or {}).items():
            if node != "path":
                check_location(loc)
        return v


class DriverMeta(BaseModel):
    """A driver's `metadata.json`, plus where it was found.

    `kind` is `python` when `entrypoint` names a class (`file.py:Class` or `module:Class`)
    that runs in-process, else `container` (a Dockerfile speaking the scope's REST contract).
    """

    model_config = ConfigDict(extra="ignore")

    name: str
    version: str
    app: str
    app_version_match: str
    scope: Scope
    source_type: Literal["native", "plugin"] = "native"
    location: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    entrypoint: str | None = None
    description: str | None = None
    path: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}-{self.version}"

    @property
    def kind(self) -> Literal["python", "container"]:
        return "python" if self.entrypoint else "container"

    def public(self) -> dict[str, Any]:
        """Upstream's DriverBase shape plus oca's extras."""
        return {
            "name": self.name,
            "version": self.version,
            "app": self.app,
            "app_version_match": self.app_version_match,
            "scope": self.scope,
            "source_type": self.source_type,
            "location": self.location,
            "meta": self.meta,
            "kind": self.kind,
            "description": self.description,
        }


def parse(model: type[BaseModel], data: Any, what: str | None = None) -> Any:
    """Validate `data` into `model`; a failure is a BadInput naming the field and value."""
    from pydantic import ValidationError

    from oca.errors import BadInput

    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or (what or model.__name__)
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        msg = err["msg"].removeprefix("Value error, ")
        raise BadInput(f"invalid {field}: {msg}{shown}") from e
