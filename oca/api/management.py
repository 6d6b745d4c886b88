"""Management API (upstream's `management_api`): services, drivers; plus `/` and `/job/{id}`.

Handlers are plain `def`s: FastAPI runs them in its thread pool, so a slow backend never
stalls the event loop. Each one parses, calls the core (oca.services, oca.discovery,
oca.jobs) and returns what the core returns, in upstream's shapes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from oca.api.schemas import DriverCreate, ServiceCreate, ServiceUpdate

router = APIRouter()
MGMT = ["management_api"]
_UPSTREAM_ORDER = ("description", "driver", "name", "version", "app", "app_version",
                   "locations", "meta", "id")


def service_json(svc: Any) -> dict[str, Any]:
    """Upstream's Service shape (its key order first), then oca's fields; secrets redacted."""
    data = svc.public()
    return {**{k: data.get(k) for k in _UPSTREAM_ORDER}, **data}


@router.get("/", tags=["root"], summary="Index")
def index() -> dict[str, str]:
    return {"msg": "system onecontainer api"}


@router.get("/service/", tags=MGMT, summary="List services")
def list_services(skip: int = Query(0, ge=0), limit: int = Query(100, ge=0, le=10000),
                  scope: str | None = Query(None, description="oca: only this scope")
                  ) -> list[dict[str, Any]]:
    from oca import services

    return [service_json(s) for s in services.ls(scope)[skip:skip + limit]]


@router.post("/service/", tags=MGMT, summary="Register a service; returns its id")
def post_service(body: ServiceCreate) -> str:
    from oca import services
    from oca.models import ServiceBase, parse

    data = body.model_dump(exclude_none=True)
    data["runtime"] = services.choose_runtime(None, None, None, data.get("locations") or {})
    svc = services.add(parse(ServiceBase, data))
    return svc.id


@router.get("/service/{service_id}", tags=MGMT, summary="Get a service")
def get_service(service_id: str) -> dict[str, Any]:
    from oca import services

    return service_json(services.show(service_id))


@router.put("/service/{service_id}", tags=MGMT, summary="Update a service (partial)")
def put_service(service_id: str, body: ServiceUpdate) -> bool:
    from oca import services

    services.update(service_id, body)
    return True


@router.delete("/service/{service_id}", tags=MGMT, summary="Remove a service")
def delete_service(service_id: str) -> bool:
    from oca import services

    services.remove(service_id)
    return True


@router.get("/service/{service_id}/heartbeat", tags=MGMT, summary="Ping a service's backend")
def ping_service(service_id: str) -> Any:
    from oca import services

    return services.ping(service_id)


@router.get("/service/{service_id}/driver", tags=MGMT,
            summary="Drivers that match a service (app and version)")
def avail_drivers(service_id: str) -> list[dict[str, Any]]:
    from oca import services

    return [d.public() for d in services.matching(service_id)]


@router.post("/service/{service_id}/driver", tags=MGMT,
             summary="Assign (and start) a driver for a service; returns the driver")
def assign_driver(service_id: str, body: DriverCreate) -> dict[str, Any]:
    from oca import services

    return services.assign_driver(service_id, body.name).public()


@router.get("/driver/", tags=MGMT, summary="List drivers (native, then plugins)")
def list_drivers() -> list[dict[str, Any]]:
    from oca import discovery

    return [d.public() for d in discovery.all_drivers()]


@router.post("/driver/", tags=MGMT,
             summary="Install a plugin driver from `location` (folder or git URL), or look one up")
def post_driver(body: DriverCreate, request: Request) -> dict[str, Any]:
    """With `location`, does what `oca driver add` does (validate, build, register); that runs
    code from the location, so it is allowed only when `oca serve` has a bearer token (a token
    also keeps browsers' cross-site requests out). Without `location`, returns the installed
    driver named `name` (upstream's behaviour)."""
    from oca import discovery

    if not body.location:
        return discovery.get_driver(body.name).public()
    if not getattr(request.app.state, "token_required", False):
        from oca.errors import Forbidden

        raise Forbidden("installing drivers over HTTP needs `oca serve --token`",
                        hint="start oca serve with --token (or OCA_API_TOKEN), or run "
                             "`oca driver add LOCATION` on the host")
    from oca import plugins

    return plugins.add(body.location).public()


@router.get("/driver/{drv_name_ver}", tags=MGMT, summary="Get a driver by NAME-VERSION")
def get_driver(drv_name_ver: str) -> dict[str, Any]:
    from oca import discovery

    return discovery.get_driver(drv_name_ver).public()


@router.get("/job/", tags=["service_api"], summary="oca: recent jobs")
def list_jobs(limit: int = Query(50, ge=1, le=1000)) -> list[dict[str, Any]]:
    from oca import jobs

    return jobs.ls(limit)


@router.get("/job/{job_id}", tags=["service_api"], summary="A job: status, position, result")
def get_job(job_id: str) -> dict[str, Any]:
    from oca import jobs

    return jobs.get(job_id)


@router.delete("/job/{job_id}", tags=["service_api"], summary="oca: cancel a queued job")
def cancel_job(job_id: str) -> dict[str, Any]:
    from oca import jobs

    return jobs.cancel(job_id)
