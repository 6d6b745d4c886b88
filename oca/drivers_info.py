"""What a driver offers, from its declaration: metadata, operations, capabilities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oca import discovery
from oca.contract import scope_contract


def operations(scope: str) -> list[dict[str, Any]]:
    contract = scope_contract(scope)
    return [
        {"name": op.name, "method": op.method, "path": op.path, "summary": op.summary,
         "params": list(op.params), "options": dict(op.options)}
        for op in contract.operations.values()
    ]


def describe(ref: str) -> dict[str, Any]:
    meta = discovery.get_driver(ref)
    capabilities: dict[str, Any] = {}
    if meta.kind == "python":
        capabilities = dict(getattr(discovery.load_driver_class(meta), "capabilities", {}))
    elif meta.path:
        # A container driver declares its capabilities in metadata.json.
        try:
            raw = json.loads((Path(meta.path) / "metadata.json").read_text(encoding="utf-8"))
            capabilities = dict(raw.get("capabilities") or {})
        except (OSError, ValueError, TypeError):
            capabilities = {}
    return {**meta.public(), "ref": meta.ref, "path": meta.path, "entrypoint": meta.entrypoint,
            "operations": operations(meta.scope), "capabilities": capabilities}
