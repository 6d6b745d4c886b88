"""The `docker` runtime: backend containers through python-on-whales.

Every container oca starts is on the user-defined network `oca_network`, labelled
`oca.service=<id>` and `oca.role=backend|driver`, runs with `init=True` (tini as PID 1, so a
stop takes well under a second) and a restart policy, publishes its port on 127.0.0.1 at a
free host port, and is only reported started once a real protocol check answers (redis
PING, postgres ReadyForQuery, HTTP 200), with a deadline. Data lives in a named volume
`oca-<service name>-data` that `rm --purge` deletes.

python-on-whales is imported lazily (here only) so that `oca --help` stays fast. Its
`stop(time=...)` is broken with CLI 28: we never pass a stop time.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from oca.errors import BackendUnreachable, BadInput, EngineUnavailable, NotFound, OcaError
from oca.models import Service, ServiceBase
from oca.net import free_port, health_check, split_hostport
from oca.runtime.base import Runtime, Status

NETWORK = "oca_network"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"

_reachable: dict[str, bool] = {}


def engine_name() -> str:
    """How the engine is addressed, for messages: `DOCKER_HOST` or the default socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET


def _ping_socket(address: str, timeout: float) -> bool:
    url = urlparse(address)
    try:
        if url.scheme == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(url.path)
        elif url.scheme == "tcp":
            s = socket.create_connection((url.hostname or "127.0.0.1", url.port or 2375),
                                         timeout=timeout)
        else:
            raise ValueError(url.scheme)
        with s:
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            head = s.recv(64)
    except OSError:
        return False
    return head.startswith(b"HTTP/") and b" 200 " in head.split(b"\r\n", 1)[0] + b" "


def _ping_cli(timeout: float) -> bool:
    try:
        p = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"],  # noqa: S607
                           capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


def engine_reachable(timeout: float = 2.0) -> bool:
    """Whether the Docker engine answers; cached per process and per `DOCKER_HOST`.

    A plain unix/tcp socket is asked `GET /_ping` directly (about a millisecond); TLS, ssh
    and docker contexts go through the CLI.
    """
    key = engine_name()
    if key not in _reachable:
        url = urlparse(key)
        if (url.scheme in ("unix", "tcp") and not os.environ.get("DOCKER_TLS_VERIFY")
                and not os.environ.get("DOCKER_CONTEXT")):
            _reachable[key] = _ping_socket(key, timeout)
        else:
            _reachable[key] = _ping_cli(timeout * 5)
    return _reachable[key]


def require_engine() -> None:
    if not engine_reachable():
        raise EngineUnavailable(f"Docker engine unreachable at {engine_name()}",
                                hint="run oca doctor")


def client() -> Any:
    try:
        from python_on_whales import docker
    except ImportError as e:
        raise EngineUnavailable("python-on-whales is not installed",
                                hint="pip install 'oca[docker]'") from e
    return docker


def docker_exception() -> type[Exception]:
    """python-on-whales' error class (a clean error when python-on-whales is missing)."""
    client()
    from python_on_whales.exceptions import DockerException

    return DockerException


def wrap(e: Exception, what: str) -> OcaError:
    """A python-on-whales failure as an oca error (the engine's own words, no command line)."""
    stderr = (getattr(e, "stderr", None) or str(e)).strip()
    if "Cannot connect to the Docker daemon" in stderr or "error during connect" in stderr:
        _reachable.pop(engine_name(), None)
        return EngineUnavailable(f"Docker engine unreachable at {engine_name()}",
                                 hint="run oca doctor")
    last = stderr.splitlines()[-1] if stderr else type(e).__name__
    return OcaError(f"{what} failed: {last.removeprefix('Error response from daemon: ')}")


def ensure_network(name: str = NETWORK) -> None:
    DockerException = docker_exception()

    docker = client()
    try:
        if not docker.network.exists(name):
            docker.network.create(name, labels={"oca.network": "shared"})
    except DockerException as e:
        if "already exists" not in (e.stderr or ""):
            raise wrap(e, f"creating network {name}") from e


def remove_network_if_unused(name: str = NETWORK) -> bool:
    DockerException = docker_exception()

    docker = client()
    try:
        if not docker.network.exists(name):
            return True
        # Stopped containers keep a reference that `network inspect` does not show.
        if docker.container.list(all=True, filters=[("network", name)]):
            return False
        docker.network.remove(name)
        return True
    except DockerException:
        return False  # in use by a container started meanwhile, or removed concurrently


def containers(labels: dict[str, str], all_: bool = True) -> list[Any]:
    DockerException = docker_exception()

    require_engine()
    try:
        return client().container.list(
            all=all_, filters=[("label", f"{k}={v}") for k, v in labels.items()])
    except DockerException as e:
        raise wrap(e, "listing containers") from e


def container_logs(container: Any, tail: int = 20) -> str:
    """The last lines of a container's output (best effort), through python-on-whales."""
    try:
        return str(client().container.logs(container, tail=tail)).strip()
    except Exception:  # noqa: BLE001 - best effort while reporting another failure
        return ""


def container_ip(container: Any, network: str = NETWORK) -> str | None:
    nets = container.network_settings.networks or {}
    net = nets.get(network) or next(iter(nets.values()), None)
    return getattr(net, "ip_address", None) or None


@dataclass
class Workload:
    """What to run for a service: image, container port, readiness check, data folder."""

    image: str
    port: int
    health: str = "tcp"
    ready_timeout: float = 60.0
    volume: str | None = None
    command: list[str] | None = None


def container_name(name: str, sid: str) -> str:
    return f"oca-{name}-{sid}"


def volume_name(name: str) -> str:
    return f"oca-{name}-data"


def _inspect(cid: str) -> dict[str, Any]:
    """The engine's inspect JSON of a container (fast path, else the CLI)."""
    from oca.runtime import engine_api

    if engine_api.available():
        return engine_api.inspect(cid)
    p = subprocess.run(["docker", "container", "inspect", cid],  # noqa: S603,S607
                       capture_output=True, text=True)
    import json

    return json.loads(p.stdout)[0] if p.returncode == 0 else {}


def _logs_tail(cid: str, tail: int = 20) -> str:
    from oca.runtime import engine_api

    if engine_api.available():
        try:
            return engine_api.logs(cid, tail)
        except OcaError:
            return ""
    return container_logs(cid, tail)


def _ip_of(info: dict[str, Any], network: str = NETWORK) -> str | None:
    nets = (info.get("NetworkSettings") or {}).get("Networks") or {}
    net = nets.get(network) or next(iter(nets.values()), None) or {}
    return net.get("IPAddress") or None


def wait_ready(cid: str, name: str, cport: int, health: str, host_port: int,
               deadline_s: float, what: str) -> None:
    """Poll the real protocol until it answers; fail early when the container exits."""
    end = time.monotonic() + deadline_s
    next_state = time.monotonic() + 0.5
    ip: str | None = None
    while True:
        if health == "tcp":
            # The published port is held by docker-proxy even before the process listens:
            # probe the container's own address on the network instead.
            if ip is None:
                ip = _ip_of(_inspect(cid))
            ok = ip is not None and health_check("tcp", ip, cport)
        else:
            ok = health_check(health, "127.0.0.1", host_port)
        if ok:
            return
        now = time.monotonic()
        exited = None
        if now >= next_state or now >= end:
            next_state = now + 0.5
            state = _inspect(cid).get("State") or {}
            if not state.get("Running"):
                exited = state.get("ExitCode", "?")
        if exited is not None or now >= end:
            logs = _logs_tail(cid)
            last = logs.splitlines()[-1] if logs else "no output"
            why = (f"exited with code {exited}" if exited is not None
                   else f"was not ready within {deadline_s:g} s")
            raise BackendUnreachable(
                f"{what} {why}: {last}" + (f"\nlast log lines:\n{logs}" if logs else ""),
                hint="raise ready_timeout, or check the image's port and command"
                if exited is None else f"see the log lines with -v (container {name})",
            )
        time.sleep(0.02)


class DockerRuntime(Runtime):
    name = "docker"

    # --- what to run ----------------------------------------------------------------------

    def workload(self, spec: ServiceBase, build: bool = True) -> Workload:
        if spec.recipe:
            from oca.images import build_recipe, recipe_raw, recipe_tag
            from oca.recipes import get_recipe

            recipe = get_recipe(spec.recipe)
            raw = recipe_raw(recipe.folder)
            image = build_recipe(recipe, progress=_progress()) if build else recipe_tag(recipe)
            return Workload(image, spec.port or recipe.port, recipe.health,
                            recipe.ready_timeout, raw.get("volume"), raw.get("command"))
        if spec.image:
            if not spec.port:
                raise BadInput("--image needs --port (the port the container listens on)")
            health = str(spec.meta.get("health", "tcp")) if spec.meta else "tcp"
            return Workload(spec.image, spec.port, health,
                            float(spec.meta.get("ready_timeout", 60)) if spec.meta else 60.0,
                            spec.meta.get("volume") if spec.meta else None)
        raise BadInput("the docker runtime needs --recipe or --image")

    def run(self, spec: ServiceBase, sid: str, host_port: int | None = None) -> tuple[str, int]:
        """Create and start the service's container; (its id, host port) once ready.

        With no `host_port`, a free one is picked, and another if the engine finds it taken
        meanwhile (other processes pick ports too).
        """
        from oca.runtime import engine_api

        require_engine()
        work = self.workload(spec)
        name = container_name(spec.name, sid)
        labels = {"oca.service": sid, "oca.role": "backend", "oca.name": spec.name,
                  "oca.port": str(work.port)}
        vol = volume_name(spec.name) if work.volume else None
        launch = self._run_api if engine_api.available() else self._run_pow
        for attempt in range(3):
            port = host_port or free_port()
            try:
                cid = launch(spec, work, name, labels, vol, sid, port)
                break
            except OcaError as e:
                taken = "port is already allocated" in e.message or "address already in use" \
                    in e.message
                if not taken or host_port or attempt == 2:
                    raise
                self._remove_ids([c["Id"] for c in engine_api.list_ids(labels)]
                                 if engine_api.available() else
                                 [c.id for c in containers(labels)])
        try:
            wait_ready(cid, name, work.port, work.health, port, work.ready_timeout,
                       f"{spec.name} ({work.image})")
        except BackendUnreachable:
            self._remove_ids([cid])
            raise
        return cid, port

    def _run_api(self, spec: ServiceBase, work: Workload, name: str, labels: dict[str, str],
                 vol: str | None, sid: str, host_port: int) -> str:
        from oca.runtime import engine_api

        if vol:
            engine_api.ensure_volume(vol, {"oca.name": spec.name, "oca.role": "data"})
        args = dict(image=work.image, name=name, labels=labels, network=NETWORK,
                    aliases=[f"oca-{sid}"], port=work.port, host_ip="127.0.0.1",
                    host_port=host_port, volumes=[(vol, work.volume)] if vol else [],
                    command=work.command)
        for attempt in range(2):
            try:
                return engine_api.run(**args)  # type: ignore[arg-type]
            except engine_api.ApiError as e:
                if e.status == 404 and "network" in e.message and attempt == 0:
                    engine_api.ensure_network(NETWORK, {"oca.network": "shared"})
                    continue
                if e.status == 404:
                    raise NotFound(f"image not found locally: {work.image}",
                                   hint="build or `docker load` it first: nothing is pulled"
                                   ) from e
                raise OcaError(f"starting {spec.name} failed: {e.message}") from e
        raise AssertionError("unreachable")

    def _run_pow(self, spec: ServiceBase, work: Workload, name: str, labels: dict[str, str],
                 vol: str | None, sid: str, host_port: int) -> str:
        DockerException = docker_exception()

        docker = client()
        try:
            present = docker.image.exists(work.image)
        except DockerException as e:
            raise wrap(e, "inspecting the image") from e
        if not present:
            raise NotFound(f"image not found locally: {work.image}",
                           hint="build or `docker load` it first: nothing is pulled")
        ensure_network()
        volumes = []
        if vol:
            try:
                if not docker.volume.exists(vol):
                    docker.volume.create(vol, labels={"oca.name": spec.name, "oca.role": "data"})
            except DockerException as e:
                if "already exists" not in (e.stderr or ""):
                    raise wrap(e, f"creating volume {vol}") from e
            volumes = [(vol, work.volume)]
        try:
            container = docker.run(
                work.image, work.command or [], detach=True, name=name, labels=labels,
                networks=[NETWORK], network_aliases=[f"oca-{sid}"], init=True,
                restart="unless-stopped", pull="never", volumes=volumes,
                publish=[(f"127.0.0.1:{host_port}", work.port)],
            )
        except DockerException as e:
            raise wrap(e, f"starting {spec.name}") from e
        return container.id

    def _remove_ids(self, ids: list[str]) -> None:
        from oca.runtime import engine_api

        if not ids:
            return
        if engine_api.available():
            for cid in ids:
                engine_api.remove(cid)
            return
        DockerException = docker_exception()

        try:
            client().container.remove(ids, force=True, volumes=True)
        except DockerException as e:
            raise wrap(e, "removing containers") from e

    # --- the runtime interface ------------------------------------------------------------

    def deploy(self, spec: ServiceBase, service_id: str) -> dict[str, str]:
        _, host_port = self.run(spec, service_id)
        return {"local": f"127.0.0.1:{host_port}"}

    def _containers(self, svc: Service) -> list[Any]:
        return containers({"oca.service": svc.id, "oca.role": "backend"})

    def _states(self, svc: Service) -> list[tuple[bool, str | None]]:
        """(running, ip on oca_network) of the service's containers."""
        from oca.runtime import engine_api

        labels = {"oca.service": svc.id, "oca.role": "backend"}
        if engine_api.available():
            require_engine()
            return [(c.get("State") == "running", _ip_of(c)) for c in engine_api.list_ids(labels)]
        return [(c.state.running, container_ip(c)) for c in containers(labels)]

    def status(self, svc: Service) -> Status:
        found = self._states(svc)
        if not found:
            return "missing"
        return "running" if any(running for running, _ in found) else "stopped"

    def start(self, svc: Service) -> None:
        DockerException = docker_exception()

        found = self._containers(svc)
        work = self.workload(svc, build=False)
        _, host_port = split_hostport(next(iter(svc.locations.values())))
        if not found:
            self.run(svc, svc.id, host_port)
            return
        container = found[0]
        try:
            if not container.state.running:
                if not client().network.exists(NETWORK):  # removed under a stopped container
                    client().container.remove(container, force=True)
                    self.run(svc, svc.id, host_port)
                    return
                client().container.start(container)
        except DockerException as e:
            raise wrap(e, f"starting {svc.name}") from e
        wait_ready(container.id, container.name, work.port, work.health, host_port,
                   work.ready_timeout, svc.name)

    def stop(self, svc: Service) -> None:
        DockerException = docker_exception()

        running = [c for c in self._containers(svc) if c.state.running]
        if running:
            try:
                client().container.stop(running)
            except DockerException as e:
                raise wrap(e, f"stopping {svc.name}") from e

    def remove(self, svc: Service, purge: bool = False) -> None:
        from oca.runtime import engine_api

        require_engine()
        labels = {"oca.service": svc.id, "oca.role": "backend"}
        if engine_api.available():
            self._remove_ids([c["Id"] for c in engine_api.list_ids(labels)])
            if purge:
                engine_api.remove_volume(volume_name(svc.name))
            return
        DockerException = docker_exception()

        docker = client()
        try:
            self._remove_ids([c.id for c in containers(labels)])
            if purge:
                vol = volume_name(svc.name)
                if docker.volume.exists(vol):
                    docker.volume.remove(vol)
        except DockerException as e:
            raise wrap(e, f"removing {svc.name}") from e

    def logs(self, svc: Service, follow: bool = False, tail: int = 100) -> Iterator[str]:
        found = self._containers(svc)
        if not found:
            raise NotFound(f"no container for service {svc.name}",
                           hint=f"start it with `oca service start {svc.name}`")
        docker = client()
        if not follow:
            yield from str(docker.container.logs(found[0], tail=tail)).splitlines(keepends=True)
            return
        for _source, chunk in docker.container.logs(found[0], tail=tail, follow=True,
                                                    stream=True):
            yield chunk.decode(errors="replace")

    def health(self, svc: Service) -> bool:
        found = [ip for running, ip in self._states(svc) if running]
        if not found:
            return False
        work = self.workload(svc, build=False)
        if work.health == "tcp":
            return found[0] is not None and health_check("tcp", found[0], work.port)
        return any(health_check(work.health, *split_hostport(h)) for h in svc.hosts())


def _progress() -> Any:
    """A no-op progress callback; the CLI passes a real one through `oca.images` directly."""
    return lambda *a, **k: None
