"""`oca up` / `oca down`: the default stack, one service per recipe, verified healthy.

`up` registers a service named after each recipe (or starts it again when it exists) and
checks each with its real protocol; the ids are kept in `$OCA_HOME/stack.json` so that
`down` stops exactly those (and the driver containers), keeping their data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from oca import config
from oca.errors import Conflict, OcaError, ServiceNotFound


def _state() -> Path:
    return config.home() / "stack.json"


def _ids() -> list[str]:
    try:
        return list(json.loads(_state().read_text())["services"])
    except (FileNotFoundError, ValueError, KeyError):
        return []


def _save(ids: list[str]) -> None:
    _state().write_text(json.dumps({"services": sorted(set(ids))}))


def default_recipes() -> list[str]:
    """Recipes in the default stack: all of them but those with `"stack": false`."""
    from oca.images import recipe_raw
    from oca.recipes import all_recipes

    return [r.name for r in all_recipes() if recipe_raw(r.folder).get("stack", True)]


def _row(svc: Any, status: str, error: OcaError | None = None) -> dict[str, Any]:
    return {"name": svc.name if svc else None, "id": svc.id if svc else None,
            "recipe": svc.recipe if svc else None, "runtime": svc.runtime if svc else None,
            "locations": svc.locations if svc else {}, "status": status,
            "error": error.message.splitlines()[0] if error else None}


def up_one(recipe: str) -> dict[str, Any]:
    from oca import services
    from oca.models import ServiceBase
    from oca.recipes import get_recipe
    from oca.registry import Registry
    from oca.runtime import get_runtime

    get_recipe(recipe)
    try:
        svc = Registry().get(recipe)
    except ServiceNotFound:
        runtime = services.choose_runtime(None, recipe, None, {})
        svc = services.add(ServiceBase(name=recipe, recipe=recipe, runtime=runtime))
    else:
        if svc.recipe != recipe:
            raise Conflict(f"service {svc.name} exists but does not run recipe {recipe}",
                           hint=f"remove it (`oca service rm {svc.name}`) or rename it")
        get_runtime(svc.runtime).start(svc)
    _save([*_ids(), svc.id])
    healthy = get_runtime(svc.runtime).health(svc)
    return _row(svc, "healthy" if healthy else "unhealthy")


def up(recipes: list[str] | None = None) -> list[dict[str, Any]]:
    """Start each recipe's service (default: the whole stack); one row per part."""
    rows = []
    for recipe in recipes or default_recipes():
        try:
            rows.append(up_one(recipe))
        except OcaError as e:
            rows.append({**_row(None, "failed", e), "name": recipe, "recipe": recipe,
                         "exit_code": e.exit_code})
    return rows


def down(remove: bool = False, purge: bool = False) -> list[dict[str, Any]]:
    """Stop (or with `remove`, remove) the stack's services and the driver containers."""
    from oca import services
    from oca.registry import Registry

    rows = []
    keep = []
    drivers: set[str] = set()
    for sid in _ids():
        try:
            svc = Registry().get(sid)
        except ServiceNotFound:
            continue
        if svc.driver:
            drivers.add(svc.driver)
        try:
            if remove:
                services.remove(sid, purge=purge)
            else:
                services.stop(sid)
            rows.append(_row(svc, "removed" if remove else "stopped"))
        except OcaError as e:
            keep.append(sid)
            rows.append(_row(svc, "failed", e))
    if remove:
        _save(keep)
    from oca.runtime.docker import engine_reachable

    if engine_reachable():
        from oca import workloads
        from oca.runtime.docker import remove_network_if_unused

        for name in workloads.stop_drivers(drivers):
            rows.append({"name": name, "id": None, "recipe": None, "runtime": "docker",
                         "locations": {}, "status": "removed", "error": None})
        remove_network_if_unused()
    return rows
