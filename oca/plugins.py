"""Adding, removing, scaffolding and testing driver plugins (the core of `oca driver ...`).

`add` validates a driver folder (or a git URL), builds its image when it is a container
driver, and only then registers it by copying it into `$OCA_HOME/drivers/<name>-<version>/`:
a broken plugin leaves nothing behind. It is the one function to wire behind `POST /driver/`
of `oca serve` (body `{"name", "source_type", "location": PATH or GIT_URL}`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from oca import config, discovery
from oca.errors import BadInput, Conflict, DriverUnavailable, NotFound, OcaError, Unavailable
from oca.models import SCOPES, DriverMeta, check_name

Kind = Literal["python", "container"]
GIT_RE = re.compile(r"^(https?://|git://|ssh://|file://|git@[^:]+:)")
COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "wheelhouse", "_oca",
                                     "node_modules")


def templates_dir() -> Path:
    return config.share_dir("templates")


def is_git_url(source: str) -> bool:
    return bool(GIT_RE.match(source))


def _clone(url: str, dest: Path) -> Path:
    """`git clone --depth 1 URL[#REF]` into `dest`; a failure shows git's last line."""
    git = shutil.which("git")
    if not git:
        raise Unavailable("git is not installed", hint="apt-get install -y git")
    url, _, ref = url.partition("#")
    # Only plain transports: no `ext::` helpers or other remote-helper command execution.
    cmd = [git, "-c", "protocol.allow=never", "-c", "protocol.https.allow=always",
           "-c", "protocol.http.allow=always", "-c", "protocol.ssh.allow=always",
           "-c", "protocol.git.allow=always", "-c", "protocol.file.allow=always",
           "clone", "--quiet", "--depth", "1"]
    if ref:
        cmd += ["--branch", ref]
    p = subprocess.run([*cmd, "--", url, str(dest)], capture_output=True, text=True,  # noqa: S603
                       timeout=300, env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin"})
    if p.returncode != 0:
        last = (p.stderr.strip().splitlines() or ["git clone failed"])[-1]
        raise BadInput(f"cannot clone {url}: {last}", hint="check the URL and that it is public")
    return dest


def validate(folder: Path) -> DriverMeta:
    """Check a driver folder without registering it; errors name the file and field."""
    meta = discovery.read_metadata(folder, "plugin")
    if meta.kind == "python":
        from oca.contract import scope_contract
        from oca.contract.base import Driver

        cls = discovery.load_driver_class(meta)
        contract = scope_contract(meta.scope)
        if not (isinstance(cls, type) and issubclass(cls, Driver)):
            raise BadInput(f"{folder}: field 'entrypoint': {meta.entrypoint} is not a driver "
                           "class", hint=f"subclass {contract.__module__}.{contract.__name__}")
        if not issubclass(cls, contract):
            raise BadInput(
                f"{folder}: field 'scope': {meta.entrypoint} does not implement the "
                f"{meta.scope} contract",
                hint=f"subclass {contract.__module__}.{contract.__name__}")
    elif not (folder / "Dockerfile").is_file():
        raise BadInput(f"{folder}: no Dockerfile and no 'entrypoint' in metadata.json",
                       hint="a container driver needs a Dockerfile; a python driver names its "
                            "class with \"entrypoint\": \"driver.py:MyDriver\"")
    return meta


def build_image(meta: DriverMeta, source: Path | None = None,
                progress: Callable[..., None] | None = None) -> str:
    """Build a container driver's image with the runtimes' builder; returns the tag.

    A failing Dockerfile is a DriverUnavailable whose message is the build's last line and
    whose `detail` holds its last lines (the CLI shows them)."""
    from oca import workloads

    try:
        return workloads.build_driver_image(meta, progress=progress)
    except OcaError as e:
        _, _, rest = e.message.partition("\n")
        lines = [line for line in rest.splitlines() if line.strip()]
        if not lines:
            raise
        raise DriverUnavailable(
            f"building driver {meta.ref} failed: {lines[-1]}",
            hint=f"fix {(source or Path(meta.path or '.')) / 'Dockerfile'} and add it again",
            detail=lines) from e


def add(source: str | Path, force: bool = False,
        progress: Callable[..., None] | None = None) -> DriverMeta:
    """Validate, build (container drivers) and register a driver folder or git URL."""
    from filelock import FileLock

    root = config.plugin_drivers_dir()
    root.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(root / ".lock"), timeout=600)
    staging = root / f".staging-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="oca-driver-"))
    try:
        text = str(source)
        if is_git_url(text):
            folder = _clone(text, work / "src")
        else:
            folder = Path(text).expanduser()
            if not folder.is_dir():
                raise NotFound(f"no driver folder at {folder}",
                               hint="pass a folder holding metadata.json, or a git URL")
        meta = discovery.read_metadata(folder, "plugin")
        lock.acquire()  # one add/rm at a time: the conflict check and the rename go together
        existing = _existing(meta.ref)
        if existing is not None and (existing.source_type == "native" or not force):
            raise Conflict(f"driver {meta.ref} is already registered ({existing.source_type})",
                           hint="bump 'version' in metadata.json" if existing.source_type ==
                           "native" else f"replace it with --force, or `oca driver rm "
                           f"{meta.ref}` first")
        shutil.copytree(folder, staging, ignore=COPY_IGNORE)
        try:
            meta = validate(staging)
        except OcaError as e:
            e.message = e.message.replace(str(staging), str(folder))  # name the user's folder
            raise
        if meta.kind == "container":
            build_image(meta, folder, progress)
        dest = root / meta.ref
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
        meta = discovery.read_metadata(dest, "plugin")
        adopt(meta)
        return meta
    finally:
        if lock.is_locked:
            lock.release()
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


def adopt(meta: DriverMeta) -> list[str]:
    """Give the new driver to registered services that match it and have no driver yet."""
    from oca.registry import Registry

    registry = Registry()
    names = []
    for svc in registry.list(meta.scope):
        if not svc.driver and svc.app == meta.app and \
                discovery.version_matches(meta.app_version_match, svc.app_version):
            registry.update(svc.id, {"driver": meta.ref})
            names.append(svc.name)
    return names


def _existing(ref: str) -> DriverMeta | None:
    try:
        meta = discovery.get_driver(ref)
    except NotFound:
        return None
    return meta if meta.ref == ref else None


def users(ref: str) -> list[str]:
    from oca.registry import Registry

    return [s.name for s in Registry().list() if s.driver == ref]


def remove(ref: str, force: bool = False) -> DriverMeta:
    """Unregister a plugin driver added with `add` (native drivers cannot be removed)."""
    meta = discovery.get_driver(ref)
    if meta.source_type == "native":
        raise BadInput(f"{meta.ref} is a native driver and cannot be removed")
    folder = Path(meta.path or "")
    if folder.parent.resolve() != config.plugin_drivers_dir().resolve():
        where = meta.entrypoint if not meta.path else meta.path
        raise BadInput(f"{meta.ref} was not added with `oca driver add` ({where})",
                       hint="delete its file from the plugins folder, or uninstall its package")
    used = users(meta.ref)
    if used and not force:
        raise Conflict(f"driver {meta.ref} is used by service(s): {', '.join(used)}",
                       hint="remove or update those services first, or pass --force")
    from filelock import FileLock

    with FileLock(str(folder.parent / ".lock"), timeout=600):
        if not folder.is_dir():
            raise NotFound(f"driver {meta.ref} was removed meanwhile")
        shutil.rmtree(folder)
    if meta.kind == "container":
        stop_driver(meta)
    return meta


def stop_driver(meta: DriverMeta) -> None:
    """Remove a container driver's containers and image; best effort (no engine: nothing)."""
    from oca import images, workloads

    try:
        from oca.runtime.docker import client, containers

        for c in containers({"oca.role": workloads.ROLE, "oca.driver": meta.ref}):
            try:
                client().container.remove(c, force=True)
            except Exception:  # noqa: BLE001 - removed meanwhile by another process
                pass
        images.remove_image(workloads.driver_tag(meta))
    except OcaError:
        pass  # no engine: the registration is gone either way


# --- scaffolding ----------------------------------------------------------------------------

TEMPLATE_CLASS = {"ai": "EchoAiDriver", "db": "EchoDbDriver", "media": "EchoMediaDriver"}


def class_name(name: str) -> str:
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", name) if p]
    out = "".join(p[:1].upper() + p[1:] for p in parts) or "My"
    if out[0].isdigit():
        out = "D" + out
    return out if out.endswith("Driver") else out + "Driver"


def scaffold_metadata(name: str, scope: str, kind: Kind, app: str, cls: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "version": "0.1.0",
        "app": app,
        "app_version_match": ">=0",
        "scope": scope,
        "description": f"TODO: what backend {name} talks to.",
        "meta": {},
    }
    if kind == "python":
        meta["entrypoint"] = f"driver.py:{cls}"
    else:
        meta["wheels"] = ["fastapi", "uvicorn", "python-multipart", "packaging"]
        meta["copy_oca"] = True
    return meta


def new(name: str, scope: str, directory: str | Path | None = None, kind: Kind = "python",
        app: str | None = None) -> Path:
    """Scaffold a driver folder from `templates/` that runs and passes the contract tests."""
    try:
        check_name(name, "driver name")
    except ValueError as e:
        raise BadInput(str(e)) from e
    if scope not in SCOPES:
        raise BadInput(f"unknown scope {scope!r}: expected one of {', '.join(SCOPES)}")
    if kind not in ("python", "container"):
        raise BadInput(f"unknown kind {kind!r}: expected python or container")
    dest = Path(directory or ".").expanduser() / name
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"{dest} already exists and is not empty", hint="pick another --dir")
    tpl = templates_dir()
    cls = class_name(name)
    code = (tpl / scope / "driver.py").read_text(encoding="utf-8")
    code = code.replace(TEMPLATE_CLASS[scope], cls)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "driver.py").write_text(code, encoding="utf-8")
    meta = scaffold_metadata(name, scope, kind, app or name, cls)
    (dest / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    readme = (tpl / "README.md").read_text(encoding="utf-8")
    readme = readme.replace("{{name}}", name).replace("{{scope}}", scope) \
        .replace("{{class}}", cls).replace("{{kind}}", kind)
    (dest / "README.md").write_text(readme, encoding="utf-8")
    if kind == "container":
        docker = (tpl / "container" / "Dockerfile").read_text(encoding="utf-8")
        (dest / "Dockerfile").write_text(docker.replace("{{class}}", cls), encoding="utf-8")
    return dest


# --- testing --------------------------------------------------------------------------------

def test(ref: str, locations: list[str] | None = None, meta: dict[str, Any] | None = None,
         service: str | None = None, rest: bool = False,
         progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run the scope's contract suite against a driver; returns the report (see testing)."""
    from oca.contract import testing

    driver = discovery.get_driver(ref)
    hosts = list(locations or [])
    svc_meta = meta
    if service:
        from oca.registry import Registry

        svc = Registry().get(service)
        hosts = hosts or svc.hosts()
        svc_meta = svc_meta if svc_meta is not None else (svc.meta or None)
    if svc_meta is None:
        svc_meta = dict(driver.meta)
    if driver.kind == "python":
        cls = discovery.load_driver_class(driver)
        if rest:
            client: testing.Client = testing.AsgiClient(cls, hosts, svc_meta, driver.meta)
            via = "rest (in-process)"
        else:
            try:
                client = testing.DirectClient(cls(hosts, svc_meta))
            except OcaError as e:
                e.hint = e.hint or "give it a backend: --location HOST:PORT [--meta JSON], " \
                    "or --service SVC"
                raise
            via = "in-process"
    else:
        from oca import workloads
        from oca.models import Service

        # A container cannot reach the host's 127.0.0.1: rewrite hosts as services do.
        probe = Service(id="drivertest", name="driver-test", runtime="external",
                        locations={f"n{i}": h for i, h in enumerate(hosts)})
        hosts = workloads.driver_hosts(svc, driver) if service else \
            workloads.driver_hosts(probe, driver)
        client = testing.HttpClient(workloads.driver_endpoint(driver), hosts, svc_meta,
                                    scope=driver.scope)
        via = "http"
    try:
        report = testing.run_suite(driver.scope, client, progress=progress)
    finally:
        client.close()
    return {"driver": driver.ref, "scope": driver.scope, "via": via, **report}
