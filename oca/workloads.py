"""Driver workloads: where a container/plugin driver runs, started on demand."""

from __future__ import annotations

from oca.errors import DriverUnavailable
from oca.models import DriverMeta


def driver_endpoint(meta: DriverMeta) -> str:
    raise DriverUnavailable(
        f"driver {meta.ref} is a container driver and none is running",
        hint="container drivers need the docker runtime",
    )
