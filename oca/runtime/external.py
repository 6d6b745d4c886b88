"""Runtimes that manage nothing: an address somewhere else, or an embedded file."""

from __future__ import annotations

from pathlib import Path

from oca import config
from oca.errors import BadInput
from oca.models import Service, ServiceBase
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

    def remove(self, svc: Service, purge: bool = False) -> None:
        """With `purge`, delete the data file, but only one oca created under `$OCA_HOME`."""
        path = svc.locations.get("path")
        if not (purge and path):
            return
        file = Path(path).resolve()
        if file.is_relative_to(config.home().resolve()):
            for extra in ("", "-wal", "-shm", "-journal"):
                Path(str(file) + extra).unlink(missing_ok=True)
