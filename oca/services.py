"""Service operations shared by the CLI and the HTTP API: add, list, show, update, remove, ping."""

from __future__ import annotations

from typing import Any

from oca import discovery
from oca.errors import BadInput, Conflict, OcaError, ServiceNotFound
from oca.ids import new_id
from oca.models import SCOPES, DriverMeta, Service, ServiceBase, ServiceUpdate
from oca.registry import Registry
from oca.runtime import get_runtime


def resolve_driver(spec: ServiceBase) -> DriverMeta | None:
    """The driver a new service gets: the one asked for, else the first match by app/version."""
    if spec.driver:
        meta = discovery.get_driver(spec.driver)
        if spec.scope and meta.scope != spec.scope:
            raise BadInput(f"driver {meta.ref} serves scope {meta.scope}, not {spec.scope}")
        return meta
    matches = discovery.matching_drivers(spec.app, spec.app_version, spec.scope)
    return matches[0] if matches else None


def complete_spec(spec: ServiceBase) -> ServiceBase:
    """Fill scope/app/version from the recipe and driver from matching, before deploying."""
    data = spec.model_dump()
    if spec.recipe:
        from oca.recipes import get_recipe

        recipe = get_recipe(spec.recipe)
        data["scope"] = data["scope"] or recipe.scope
        if not spec.app:
            data["app"], data["app_version"] = recipe.app, recipe.app_version
    spec = ServiceBase.model_validate(data)
    driver = resolve_driver(spec)
    if driver:
        data["driver"] = driver.ref
        data["scope"] = data["scope"] or driver.scope
    if data["scope"] is None:
        raise BadInput(
            f"cannot tell the scope of service {spec.name}",
            hint=f"pass --scope ({'|'.join(SCOPES)}) or --app matching a driver",
        )
    return ServiceBase.model_validate(data)


def add(spec: ServiceBase) -> Service:
    """Deploy the service's workload through its runtime, then register it."""
    registry = Registry()
    try:
        registry.get(spec.name)
    except ServiceNotFound:
        pass
    else:
        raise Conflict(f"service already exists: {spec.name}",
                       hint="pick another name, or remove it with `oca service rm`")
    spec = complete_spec(spec)
    runtime = get_runtime(spec.runtime)
    sid = new_id()
    while True:
        try:
            registry.get(sid)
        except ServiceNotFound:
            break
        sid = new_id()
    locations = runtime.deploy(spec, sid)
    spec = spec.model_copy(update={"locations": locations})
    try:
        _start_driver(spec)
        return registry.add(spec, sid)
    except OcaError:
        runtime.remove(Service(id=sid, **spec.model_dump()), purge=True)
        raise


def _start_driver(spec: ServiceBase) -> None:
    """A container driver that is not running yet is started now (and shared afterwards)."""
    if not spec.driver:
        return
    meta = discovery.get_driver(spec.driver)
    if meta.kind == "container":
        from oca import workloads

        workloads.driver_endpoint(meta)


def ls(scope: str | None = None) -> list[Service]:
    return Registry().list(scope)


def show(ref: str) -> Service:
    return Registry().get(ref)


def update(ref: str, changes: ServiceUpdate) -> Service:
    if changes.driver:
        discovery.get_driver(changes.driver)
    return Registry().update(ref, changes)


def assign_driver(ref: str, driver: str) -> DriverMeta:
    """Give a service a driver (upstream's POST /service/{id}/driver) and start it if it is
    a container driver. The driver must serve the service's scope."""
    svc = Registry().get(ref)
    meta = discovery.get_driver(driver)
    if svc.scope and meta.scope != svc.scope:
        raise BadInput(f"driver {meta.ref} serves scope {meta.scope}, not {svc.scope}",
                       hint=f"list {svc.scope} drivers with `oca driver ls --scope {svc.scope}`")
    _start_driver(svc.model_copy(update={"driver": meta.ref}))
    Registry().update(svc.id, {"driver": meta.ref})
    return meta


def remove(ref: str, purge: bool = False) -> Service:
    registry = Registry()
    svc = registry.get(ref)
    get_runtime(svc.runtime).remove(svc, purge=purge)
    return registry.remove(svc.id)


def ping(ref: str | Service) -> dict[str, Any]:
    """Health through the driver's real protocol check (upstream's heartbeat)."""
    from oca.calls import call

    svc = Registry().get(ref) if isinstance(ref, str) else ref
    if not svc.driver:
        # No driver (e.g. a redis service): the runtime's own protocol check answers.
        from oca.errors import BackendUnreachable

        if get_runtime(svc.runtime).health(svc):
            return {"status": "ok", "service": svc.name, "check": "runtime",
                    "hosts": svc.hosts()}
        raise BackendUnreachable(
            f"service {svc.name} is down: no answer at {', '.join(svc.hosts()) or 'no address'}",
            hint=f"start it with `oca service start {svc.name}`",
        )
    return call(svc, "ping")


def matching(ref: str) -> list[DriverMeta]:
    svc = Registry().get(ref)
    return discovery.matching_drivers(svc.app, svc.app_version, svc.scope)


def pick(scope: str, ref: str | None = None) -> Service:
    """The service a scope function uses: the one named, the only one, or the embedded default."""
    registry = Registry()
    if ref:
        svc = registry.get(ref)
        if svc.scope != scope:
            raise BadInput(f"service {svc.name} is a {svc.scope} service, not {scope}")
        return svc
    candidates = registry.list(scope)
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1:
        names = ", ".join(s.name for s in candidates)
        raise BadInput(f"several {scope} services: {names}",
                       hint="choose one with --service NAME")
    import importlib

    return importlib.import_module(f"oca.scopes.{scope}").ensure_default()


def choose_runtime(runtime: str | None, recipe: str | None, image: str | None,
                   locations: dict[str, str]) -> str:
    """The runtime a new service gets when none is asked for."""
    if runtime:
        return runtime
    if locations:
        return "external"
    if image:
        return "docker"
    if recipe:
        from oca.recipes import get_recipe

        if get_recipe(recipe).local_module and not engine_reachable():
            return "local"
        return "docker"
    return "external"


def engine_reachable() -> bool:
    try:
        from oca.runtime.docker import engine_reachable as check
    except ImportError:
        return False
    return check()


def start(ref: str) -> Service:
    svc = Registry().get(ref)
    get_runtime(svc.runtime).start(svc)
    return svc


def stop(ref: str) -> Service:
    svc = Registry().get(ref)
    get_runtime(svc.runtime).stop(svc)
    return svc


def logs(ref: str, follow: bool = False, tail: int = 100) -> Any:
    svc = Registry().get(ref)
    return get_runtime(svc.runtime).logs(svc, follow=follow, tail=tail)
