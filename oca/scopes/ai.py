"""The ai scope's functions, shared by the CLI and the HTTP API."""

from __future__ import annotations

from oca.errors import Unavailable
from oca.models import Service


def ensure_default() -> Service:
    """The embedded default ai service, registered and started on first use."""
    raise Unavailable("no ai service is registered", hint="add one with `oca service add`")
