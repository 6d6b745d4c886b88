"""Runtimes that manage nothing: an address somewhere else, or an embedded file."""

from __future__ import annotations

from oca.errors import BadInput
from oca.models import ServiceBase
from oca.runtime.base import Runtime


class ExternalRuntime(Runtime):
    name = "external"

    def deploy(self, spec: ServiceBase, service_id: str) -> dict[str, str]:
        if not spec.locations:
            raise BadInput(
                "an external service needs at least one location",
                hint="pass --location HOST:PORT (or NODE=HOST:PORT), or use --recipe/--image",
            )
        return dict(spec.locations)


class EmbeddedRuntime(ExternalRuntime):
    """A backend inside oca's own process (e.g. a SQLite file): locations hold a path."""

    name = "embedded"
