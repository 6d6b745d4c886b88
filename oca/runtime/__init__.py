"""Where workloads run: `docker`, `local` (a supervised process), `external`, `embedded`."""

from __future__ import annotations

import importlib

from oca.errors import BadInput
from oca.runtime.base import Runtime

_MODULES = {
    "docker": "oca.runtime.docker:DockerRuntime",
    "local": "oca.runtime.local:LocalRuntime",
    "external": "oca.runtime.external:ExternalRuntime",
    "embedded": "oca.runtime.external:EmbeddedRuntime",
}


def get_runtime(name: str) -> Runtime:
    try:
        target = _MODULES[name]
    except KeyError as e:
        raise BadInput(f"unknown runtime {name!r}: expected one of {', '.join(_MODULES)}") from e
    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)()
