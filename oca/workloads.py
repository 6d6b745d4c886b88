"""Driver workloads: container drivers, built and started on demand and shared.

A container driver is a folder `drivers/<name>-<version>/` (or a plugin folder) with a
`Dockerfile` whose server speaks the scope's REST contract. oca builds it as
`oca-driver/<name>:<version>` (again only when the folder changed), runs ONE container per
driver on `oca_network` (label `oca.role=driver`, `oca.driver=<name>-<version>`), publishes its
port on 127.0.0.1 and waits until `GET /ping` answers. Every service of that driver, in any
`$OCA_HOME`, reuses the same container.

A driver in a container cannot reach `127.0.0.1` of the host, so the `Hosts` it gets are
rewritten by `driver_hosts`: a docker backend is addressed by its network alias
(`oca-<service id>:<container port>`), a loopback address by `host.docker.internal`.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from oca.errors import DriverUnavailable, OcaError
from oca.models import DriverMeta, Service

ROLE = "driver"
DEFAULT_PORT = 8000
READY_TIMEOUT = 60.0
LOOPBACK = {"127.0.0.1", "localhost", "0.0.0.0", "::1"}  # noqa: S104 - addresses to rewrite

_endpoints: dict[str, str] = {}


def driver_tag(meta: DriverMeta) -> str:
    return f"oca-driver/{meta.name}:{meta.version}"


def _folder(meta: DriverMeta) -> Path:
    folder = Path(meta.path or "")
    if not (folder / "Dockerfile").is_file():
        raise DriverUnavailable(
            f"driver {meta.ref} has neither an entrypoint nor a Dockerfile",
            hint=f"add {folder / 'Dockerfile'} or an `entrypoint` in its metadata.json",
        )
    return folder


def _raw(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def build_driver_image(meta: DriverMeta, progress: Any = None, force: bool = False) -> str:
    """Build the driver's Dockerfile as `oca-driver/<name>:<version>` if needed; its tag.

    metadata.json may use the recipes' build conventions: `wheels`, `copy_oca`, `prebuild`.
    A failing Dockerfile is a DriverUnavailable that shows the build's last lines.
    """
    from oca import images
    from oca.runtime.docker import require_engine

    require_engine()
    folder = _folder(meta)
    raw = _raw(folder)
    tag = driver_tag(meta)
    digest = images.recipe_hash(folder, raw)
    labels = images.image_labels(tag)
    if not force and labels is not None and labels.get("oca.driver.hash") == digest:
        return tag
    progress = progress or images._noop
    try:
        if raw.get("prebuild"):
            images.run_prebuild(raw["prebuild"], folder)
        if raw.get("wheels"):
            images.fill_wheelhouse(folder, list(raw["wheels"]))
        if raw.get("copy_oca"):
            images.copy_oca(folder)
        images.docker_build(folder, tag, {"BASE_IMAGE": images.base_image()},
                            {"oca.driver": meta.ref, "oca.driver.hash": digest},
                            progress=progress, what=f"driver {meta.ref}")
    except DriverUnavailable:
        raise
    except OcaError as e:
        if e.exit_code == 5:
            raise
        raise DriverUnavailable(e.message, hint=e.hint) from e
    return tag


def _answers_http(port: int, timeout: float = 1.0) -> bool:
    """Any HTTP answer to `GET /ping` (the driver is up; without Hosts it may say 4xx/5xx)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /ping HTTP/1.0\r\nHost: localhost\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


def _container_port(image_tag: str, raw: dict[str, Any]) -> int:
    if raw.get("port"):
        return int(raw["port"])
    from oca.runtime.docker import client

    exposed = client().image.inspect(image_tag).config.exposed_ports or {}
    for key in exposed:
        return int(str(key).split("/")[0])
    return DEFAULT_PORT


def _published_port(container: Any) -> int | None:
    for bindings in (container.network_settings.ports or {}).values():
        for b in bindings or []:
            hp = b.get("HostPort") if isinstance(b, dict) else getattr(b, "host_port", None)
            if hp:
                return int(hp)
    return None


def _wait(container: Any, port: int, meta: DriverMeta) -> None:
    from oca.runtime.docker import client, container_logs

    docker = client()
    end = time.monotonic() + READY_TIMEOUT
    next_state = time.monotonic() + 0.5
    while not _answers_http(port):
        now = time.monotonic()
        if now >= next_state or now >= end:
            next_state = now + 0.5
            state = docker.container.inspect(container.id).state
            if not state.running or now >= end:
                logs = container_logs(container)
                last = logs.splitlines()[-1] if logs else "no output"
                why = ("exited" if not state.running
                       else f"did not answer GET /ping within {READY_TIMEOUT:g} s")
                raise DriverUnavailable(
                    f"driver {meta.ref} {why}: {last}"
                    + (f"\nlast log lines:\n{logs}" if logs else ""),
                    hint=f"see `docker logs {container.name}`",
                )
        time.sleep(0.05)


def _running_endpoint(meta: DriverMeta) -> str | None:
    """A running, current, answering driver container found over the Engine API, if any
    (one-shot CLI calls then need neither python-on-whales nor the docker CLI)."""
    from oca.runtime import engine_api
    from oca.runtime.docker import require_engine

    if not engine_api.available():
        return None
    require_engine()
    tag = build_driver_image(meta)
    try:
        image_id = engine_api.request("GET", f"/images/{tag}/json")["Id"]
    except OcaError:
        return None
    for c in engine_api.list_ids({"oca.role": ROLE, "oca.driver": meta.ref}):
        ports = [p.get("PublicPort") for p in c.get("Ports") or [] if p.get("PublicPort")]
        if c.get("ImageID") == image_id and c.get("State") == "running" and ports \
                and _answers_http(int(ports[0])):
            return f"http://127.0.0.1:{ports[0]}"
    return None


def driver_endpoint(meta: DriverMeta) -> str:
    """Base URL of the driver's running container, building and starting it if needed."""
    if meta.location and meta.location.startswith(("http://", "https://")):
        return meta.location.rstrip("/")
    cached = _endpoints.get(meta.ref)
    if cached and _answers_http(int(cached.rsplit(":", 1)[1])):
        return cached
    fast = _running_endpoint(meta)
    if fast:
        _endpoints[meta.ref] = fast
        return fast
    from oca.net import free_port
    from oca.runtime.docker import (
        NETWORK,
        client,
        containers,
        docker_exception,
        ensure_network,
        wrap,
    )

    DockerException = docker_exception()

    tag = build_driver_image(meta)
    docker = client()
    image_id = docker.image.inspect(tag).id
    labels = {"oca.role": ROLE, "oca.driver": meta.ref}
    for c in containers(labels):
        port = _published_port(c)
        if c.image == image_id and c.state.running and port:
            _wait(c, port, meta)
            _endpoints[meta.ref] = f"http://127.0.0.1:{port}"
            return _endpoints[meta.ref]
        try:  # stale: an older image, or stopped
            docker.container.remove(c, force=True)
        except DockerException:
            pass
    ensure_network()
    port = free_port()
    name = f"oca-driver-{meta.name}-{meta.version}"
    try:
        container = docker.run(
            tag, detach=True, name=name, labels=labels, networks=[NETWORK], init=True,
            restart="unless-stopped", pull="never",
            publish=[(f"127.0.0.1:{port}", _container_port(tag, _raw(_folder(meta))))],
            add_hosts=[("host.docker.internal", "host-gateway")],
        )
    except DockerException as e:
        if "is already in use" not in (e.stderr or ""):
            raise DriverUnavailable(wrap(e, f"starting driver {meta.ref}").message) from e
        # Another process started it at the same moment: use theirs.
        container = docker.container.inspect(name)
        deadline = time.monotonic() + 10
        while _published_port(container) is None and time.monotonic() < deadline:
            time.sleep(0.1)
            container = docker.container.inspect(name)
        port = _published_port(container) or port
    _wait(container, port, meta)
    _endpoints[meta.ref] = f"http://127.0.0.1:{port}"
    return _endpoints[meta.ref]


def driver_hosts(svc: Service, meta: DriverMeta | None = None) -> list[str]:
    """The `Hosts` a container driver needs to reach `svc`'s backend from its network."""
    if meta is not None and (meta.kind != "container" or meta.location):
        return svc.hosts()
    if svc.runtime == "docker":
        port = svc.port
        if svc.recipe:
            from oca.recipes import get_recipe

            port = svc.port or get_recipe(svc.recipe).port
        if port:
            return [f"oca-{svc.id}:{port}"]
    out = []
    for h in svc.hosts():
        host, _, port_s = h.rpartition(":")
        out.append(f"host.docker.internal:{port_s}" if host.strip("[]") in LOOPBACK else h)
    return out


def stop_drivers(refs: set[str] | None = None) -> list[str]:
    """Remove the containers of the drivers `refs` (all when None); their names.

    They are started again on demand by the next call that needs them.
    """
    from oca.runtime.docker import client, containers

    found = [c for c in containers({"oca.role": ROLE})
             if refs is None or c.config.labels.get("oca.driver") in refs]
    if found:
        client().container.remove(found, force=True)
    _endpoints.clear()
    return [c.name for c in found]
