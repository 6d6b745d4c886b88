"""Helpers of the runtime tests (a module name unique across test folders)."""

from __future__ import annotations

from typing import Any


def labelled(docker: Any, sid: str) -> dict[str, list[Any]]:
    """Everything on the engine that still carries `oca.service=<sid>`."""
    flt = [("label", f"oca.service={sid}")]
    return {
        "containers": docker.container.list(all=True, filters=flt),
        "networks": docker.network.list(filters=flt),
        "volumes": docker.volume.list(filters=flt),
    }
