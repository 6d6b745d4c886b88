"""What a driver offers, from its declaration: metadata, operations, capabilities."""

from __future__ import annotations

from typing import Any

from oca import discovery
from oca.contract import scope_contract


def describe(ref: str) -> dict[str, Any]:
    meta = discovery.get_driver(ref)
    contract = scope_contract(meta.scope)
    capabilities: dict[str, Any] = {}
    if meta.kind == "python":
        capabilities = dict(getattr(discovery.load_driver_class(meta), "capabilities", {}))
    operations = [
        {"name": op.name, "method": op.method, "path": op.path, "summary": op.summary}
        for op in contract.operations.values()
    ]
    return {**meta.public(), "path": meta.path, "operations": operations,
            "capabilities": capabilities}
