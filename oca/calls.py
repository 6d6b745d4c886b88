"""The one call path: service → driver → backend, for the CLI and `oca serve` alike.

A python driver runs in-process: its class is instantiated once per service and process and
called directly (no HTTP, no FastAPI import: this keeps one-shot CLI calls fast). A
container/plugin driver is reached over HTTP with upstream's driver protocol (`Hosts` and
`Metadata` headers, JSON bodies, multipart field `img`).
"""

from __future__ import annotations

import inspect
import json
import time
from typing import Any

from oca import discovery
from oca.contract.base import Driver, Operation
from oca.errors import (
    BackendUnreachable,
    BadInput,
    DriverUnavailable,
    Timeout,
    error_from_body,
)
from oca.models import DriverMeta, Service
from oca.registry import Registry

_instances: dict[tuple[str, str], Driver] = {}


_metas: dict[tuple[str, str, str], DriverMeta] = {}


def driver_for(service: Service) -> DriverMeta:
    """The service's driver description, looked up once per service version and process
    (a scan of every driver folder costs milliseconds; a long-running `oca serve` calls
    this on every request)."""
    if not service.driver:
        raise DriverUnavailable(
            f"service {service.name} has no driver assigned",
            hint=f"assign one with `oca service update {service.name} --driver NAME-VERSION`",
        )
    key = (service.id, service.updated_at, service.driver)
    meta = _metas.get(key)
    if meta is None:
        meta = _metas[key] = discovery.get_driver(service.driver)
    return meta


def operation(meta: DriverMeta, op: str) -> Operation:
    from oca.contract import scope_contract

    contract = scope_contract(meta.scope)
    try:
        return contract.operations[op]
    except KeyError as e:
        raise BadInput(f"scope {meta.scope} has no operation {op!r}") from e


def instance(service: Service, meta: DriverMeta) -> Driver:
    key = (service.id, service.updated_at)
    inst = _instances.get(key)
    if inst is None:
        cls = discovery.load_driver_class(meta)
        inst = cls(service.hosts(), service.meta or dict(meta.meta))
        inst.timeout = service.timeout  # the service record's per-call timeout wins
        _instances[key] = inst
    return inst


def close_all() -> None:
    for inst in _instances.values():
        try:
            inst.close()
        except Exception:  # noqa: BLE001 - best effort at shutdown
            pass
    _instances.clear()
    _metas.clear()


def call(service: Service | str, op: str, **params: Any) -> Any:
    """Run operation `op` of `service`'s scope with `params`; retries transient failures."""
    svc = Registry().get(service) if isinstance(service, str) else service
    meta = driver_for(svc)
    spec = operation(meta, op)
    attempts = 1 + (svc.retries if spec.idempotent else 0)
    delay = 0.1
    for attempt in range(attempts):
        try:
            if meta.kind == "python":
                return _call_python(instance(svc, meta), meta, op, params)
            return http_call(svc, meta, spec, params)
        except (BackendUnreachable, Timeout):
            if attempt + 1 >= attempts:
                raise
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


_signatures: dict[tuple[type, str], inspect.Signature] = {}


def _call_python(inst: Driver, meta: DriverMeta, op: str, params: dict[str, Any]) -> Any:
    """Call a python driver's method; wrong arguments or a missing method are bad input."""
    fn = getattr(inst, op)
    key = (type(inst), op)
    sig = _signatures.get(key)
    if sig is None:
        sig = _signatures[key] = inspect.signature(fn)
    try:
        sig.bind(**params)
    except TypeError as e:
        raise BadInput(f"{op} of driver {meta.ref}: {e}") from e
    try:
        return fn(**params)
    except NotImplementedError as e:
        raise BadInput(f"driver {meta.ref} does not support {op}",
                       hint=f"see what it supports with `oca driver show {meta.ref}`") from e


def driver_endpoint(meta: DriverMeta) -> str:
    """Base URL of a running container/plugin driver, started on demand by its runtime."""
    from oca import workloads

    return workloads.driver_endpoint(meta)




def _driver_hosts(svc: Service, meta: DriverMeta) -> list[str]:
    """Backend addresses as the driver's container sees them (not the host's 127.0.0.1)."""
    from oca import workloads

    return workloads.driver_hosts(svc, meta)


def encode_request(spec: Operation, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The driver path and httpx request arguments of one operation (the REST wire format):
    path placeholders filled, an upload as multipart field `img`, GET arguments as query
    parameters (JSON-encoded unless strings), anything else as a JSON body."""
    params = dict(params)
    in_path = [k for k in params if "{" + k + "}" in spec.path]
    path = spec.path.format(**{k: params.pop(k) for k in in_path})
    kwargs: dict[str, Any] = {}
    if spec.upload and spec.upload in params:
        data = params.pop(spec.upload)
        kwargs["files"] = {"img": ("image", data)}
        if params:
            kwargs["data"] = {k: json.dumps(v) if not isinstance(v, str) else v
                              for k, v in params.items()}
    elif spec.method == "GET" and not spec.body:
        kwargs["params"] = {k: v if isinstance(v, str) else json.dumps(v)
                            for k, v in params.items() if v is not None}
    else:
        kwargs["json"] = params
    return path, kwargs


def http_call(svc: Service, meta: DriverMeta, spec: Operation, params: dict[str, Any]) -> Any:
    import httpx

    base = driver_endpoint(meta)
    path, kwargs = encode_request(spec, params)
    kwargs["headers"] = {
        "Metadata": json.dumps(svc.meta or meta.meta or None),
        "Hosts": ",".join(_driver_hosts(svc, meta)),
    }
    try:
        r = httpx.request(spec.method, base + path, timeout=svc.timeout, **kwargs)
    except httpx.TimeoutException as e:
        raise Timeout(f"driver {meta.ref} did not answer within {svc.timeout:g} s") from e
    except httpx.HTTPError as e:
        raise DriverUnavailable(f"driver {meta.ref} is unreachable at {base}: {e}") from e
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code >= 400:
        typed = error_from_body(body)
        if typed is not None:
            raise typed
        if r.status_code < 500:
            raise BadInput(f"driver {meta.ref} refused {spec.name}: {r.text[:300]}")
        raise DriverUnavailable(f"driver {meta.ref} failed {spec.name}: {r.text[:300]}")
    if body is None and r.content:
        raise DriverUnavailable(f"driver {meta.ref} answered {spec.name} with non-JSON output")
    return body
