"""Finding drivers and matching services to them: one mechanism for native and plugin drivers.

Every driver comes from a *source*, registered with `register_source`; oca's own drivers are
registered exactly like third-party ones. The built-in sources, in lookup order:

- `native`: the shipped folder `drivers/<name>-<version>/metadata.json`;
- `folders`: plugin folders added by `oca driver add` under `$OCA_HOME/drivers/`
  (a python class named by `entrypoint`, or a Dockerfile speaking the REST contract);
- `files`: loose `.py` files in `$OCA_HOME/plugins/` and the folders of `$OCA_PLUGINS_DIR`
  (`:`-separated), each defining driver classes with a `metadata` dict;
- `entry-points`: installed packages exposing driver classes in the `oca.drivers` group.

`$OCA_PLUGINS` is an allow-list: unset, every plugin loads; set, only the plugins named
(comma-separated: driver name, `name-version`, file stem or entry-point name); set but
empty, none. Plugin code is not imported before it passes the allow-list.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from oca import config
from oca.errors import BadInput, DriverNotFound, OcaError
from oca.models import DriverMeta

ENTRY_POINT_GROUP = "oca.drivers"
ALLOW_ENV = "OCA_PLUGINS"
DIRS_ENV = "OCA_PLUGINS_DIR"

Source = Callable[[], Iterable[DriverMeta]]
_SOURCES: list[tuple[str, Source]] = []
#: Plugins that could not be loaded during the last scan: (where, why). `oca driver ls` shows them.
problems: list[tuple[str, str]] = []


def register_source(name: str, source: Source) -> None:
    """Add (or replace) a driver source; sources are searched in registration order."""
    for i, (n, _) in enumerate(_SOURCES):
        if n == name:
            _SOURCES[i] = (name, source)
            return
    _SOURCES.append((name, source))


def sources() -> list[str]:
    return [n for n, _ in _SOURCES]


def version_matches(spec: str, version: str) -> bool:
    """Upstream's `==` (exact string), `<=`, `>=`, or any PEP 440 specifier set."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.version import InvalidVersion, Version

    spec = spec.strip()
    if spec.startswith("==") and spec[2:].strip() == version.strip():
        return True
    try:
        return SpecifierSet(spec).contains(Version(version), prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return False


def check_specifier(spec: str, where: str = "") -> None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(spec)
    except InvalidSpecifier as e:
        prefix = f"{where}: " if where else ""
        raise BadInput(
            f"{prefix}field 'app_version_match': invalid version specifier {spec!r}",
            hint="use a PEP 440 specifier such as '>=1.0', '==10.11' or '>=10,<12'",
        ) from e


def check_version(version: str, where: str = "") -> None:
    from packaging.version import InvalidVersion, Version

    try:
        Version(version)
    except InvalidVersion as e:
        prefix = f"{where}: " if where else ""
        raise BadInput(f"{prefix}field 'version': invalid version {version!r}",
                       hint="use a PEP 440 version such as '0.1.0'") from e


def meta_from_dict(raw: Any, where: str, **extra: Any) -> DriverMeta:
    """Validate a metadata mapping into a DriverMeta; errors name the file and the bad field."""
    from pydantic import ValidationError

    from oca.models import check_name

    if not isinstance(raw, dict):
        raise BadInput(f"{where}: metadata must be a JSON object")
    try:
        meta = DriverMeta.model_validate({**raw, **extra})
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "metadata"
        msg = "missing" if err["type"] == "missing" else err["msg"]
        got = "" if err["type"] == "missing" else f" (got {err.get('input')!r})"
        raise BadInput(f"{where}: field {field!r}: {msg}{got}",
                       hint="required fields: name, version, app, app_version_match, scope") from e
    try:
        check_name(meta.name, "driver name")
    except ValueError as e:
        raise BadInput(f"{where}: field 'name': {e}") from e
    check_version(meta.version, where)
    check_specifier(meta.app_version_match, where)
    return meta


def read_metadata(folder: Path, source_type: str) -> DriverMeta:
    """Parse and validate one driver folder's metadata.json; errors name the bad field."""
    path = folder / "metadata.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise BadInput(f"{folder}: no metadata.json",
                       hint="a driver folder holds metadata.json (and a Dockerfile or driver.py)"
                       ) from e
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}: not valid JSON ({e})") from e
    return meta_from_dict(raw, str(path), source_type=source_type, path=str(folder))


# --- the allow-list -------------------------------------------------------------------------

def allowed(*names: str) -> bool:
    """Whether a plugin known by any of `names` may load under `$OCA_PLUGINS`."""
    value = os.environ.get(ALLOW_ENV)
    if value is None:
        return True
    wanted = {v.strip() for v in value.split(",") if v.strip()}
    return any(n in wanted for n in names if n)


# --- sources --------------------------------------------------------------------------------

_scan_cache: dict[tuple[str, str], tuple[Any, list[DriverMeta], list[tuple[str, str]]]] = {}


def _scan(root: Path, source_type: str) -> list[DriverMeta]:
    """Driver folders under `root`; cached per process until a metadata.json changes."""
    if not root.is_dir():
        return []
    entries = []
    for folder in sorted(root.iterdir()):
        if folder.name.startswith("."):
            continue
        try:
            st = (folder / "metadata.json").stat()
        except OSError:
            continue
        entries.append((folder, st.st_mtime_ns, st.st_size))
    signature = (tuple(entries), os.environ.get(ALLOW_ENV))
    key = (str(root), source_type)
    cached = _scan_cache.get(key)
    if cached is not None and cached[0] == signature:
        problems.extend(cached[2])
        return list(cached[1])
    found, failed = [], []
    for folder, _, _ in entries:
        try:
            meta = read_metadata(folder, source_type)
        except BadInput as e:
            # A broken plugin must not break listing; `oca driver add` reports it in full.
            failed.append((str(folder), e.message))
            continue
        if source_type == "plugin" and not allowed(meta.name, meta.ref, folder.name):
            continue
        found.append(meta)
    _scan_cache[key] = (signature, found, failed)
    problems.extend(failed)
    return list(found)


def native_source() -> list[DriverMeta]:
    return _scan(config.native_drivers_dir(), "native")


def folder_source() -> list[DriverMeta]:
    return _scan(config.plugin_drivers_dir(), "plugin")


def plugin_file_dirs() -> list[Path]:
    dirs = [config.home() / "plugins"]
    dirs += [Path(p).expanduser() for p in os.environ.get(DIRS_ENV, "").split(os.pathsep) if p]
    return dirs


_files: dict[str, ModuleType] = {}


def import_file(file: Path) -> ModuleType:
    """Import a python file once per process and version of the file (path and mtime)."""
    try:
        key = f"{file.resolve()}@{file.stat().st_mtime_ns}"
    except OSError as e:
        raise BadInput(f"cannot load {file}: {e}") from e
    module = _files.get(key)
    if module is None:
        digest = hashlib.sha1(key.encode()).hexdigest()[:8]
        name = f"oca_plugin_{file.stem.replace('-', '_')}_{digest}"
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise BadInput(f"cannot load {file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            sys.modules.pop(name, None)
            hint = (f"install {e.name} in oca's environment (e.g. pip install {e.name})"
                    if isinstance(e, ModuleNotFoundError) and e.name else None)
            raise BadInput(f"{file}: import failed: {type(e).__name__}: {e}", hint=hint) from e
        _files[key] = module
    return module


def classes_in(module: ModuleType) -> Iterator[type]:
    """Driver classes a module defines itself (not imported ones) with their own `metadata`."""
    from oca.contract.base import Driver

    for obj in vars(module).values():
        if (isinstance(obj, type) and issubclass(obj, Driver) and obj.__module__ == module.__name__
                and isinstance(obj.__dict__.get("metadata"), dict)):
            yield obj


def meta_from_class(cls: type, entrypoint: str, where: str, path: str | None) -> DriverMeta:
    raw = dict(cls.metadata)  # type: ignore[attr-defined]
    raw.setdefault("scope", getattr(cls, "scope", None))
    raw.setdefault("description", (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__
                   else None)
    return meta_from_dict(raw, where, source_type="plugin", entrypoint=entrypoint, path=path)


_file_cache: dict[str, tuple[int, list[DriverMeta]]] = {}


def _file_drivers(file: Path, folder: Path) -> list[DriverMeta]:
    mtime = file.stat().st_mtime_ns
    cached = _file_cache.get(str(file))
    if cached is not None and cached[0] == mtime:
        return list(cached[1])
    module = import_file(file)
    metas = [meta_from_class(cls, f"{file.resolve()}:{cls.__name__}", f"{file}:{cls.__name__}",
                             str(folder)) for cls in classes_in(module)]
    _file_cache[str(file)] = (mtime, metas)
    return list(metas)


def file_source() -> list[DriverMeta]:
    found = []
    for folder in plugin_file_dirs():
        if not folder.is_dir():
            continue
        for file in sorted(folder.glob("*.py")):
            if file.name.startswith("_") or not allowed(file.stem):
                continue
            try:
                found += _file_drivers(file, folder)
            except OcaError as e:
                problems.append((str(file), e.message))
    return found


_ep_cache: dict[str | None, tuple[list[DriverMeta], list[tuple[str, str]]]] = {}


def entry_point_source() -> list[DriverMeta]:
    """Installed packages' drivers; read once per process (installing needs a restart)."""
    cached = _ep_cache.get(os.environ.get(ALLOW_ENV))
    if cached is not None:
        problems.extend(cached[1])
        return list(cached[0])
    from importlib.metadata import entry_points

    before = len(problems)
    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if not allowed(ep.name):
            continue
        try:
            obj = ep.load()
            classes = [obj] if isinstance(obj, type) else list(obj())
            for cls in classes:
                target = f"{cls.__module__}:{cls.__qualname__}"
                found.append(meta_from_class(cls, target, f"entry point {ep.name} ({target})",
                                             None))
        except OcaError as e:
            problems.append((f"entry point {ep.name}", e.message))
        except Exception as e:  # noqa: BLE001 - a broken third-party package must not break oca
            problems.append((f"entry point {ep.name}", f"{type(e).__name__}: {e}"))
    _ep_cache[os.environ.get(ALLOW_ENV)] = (found, problems[before:])
    return list(found)


register_source("native", native_source)
register_source("folders", folder_source)
register_source("files", file_source)
register_source("entry-points", entry_point_source)


# --- lookups --------------------------------------------------------------------------------

def _iter_sources() -> Iterator[list[DriverMeta]]:
    problems.clear()
    for _, source in _SOURCES:
        yield list(source())


def all_drivers() -> list[DriverMeta]:
    """Every driver of every source: native first, then plugins. Same ref twice: first wins."""
    seen: set[str] = set()
    out = []
    for batch in _iter_sources():
        for d in batch:
            if d.ref not in seen:
                seen.add(d.ref)
                out.append(d)
    return out


def get_driver(ref: str) -> DriverMeta:
    """A driver by `name-version`, or by name alone (the newest version)."""
    drivers: list[DriverMeta] = []
    for batch in _iter_sources():
        for d in batch:
            if d.ref == ref:
                return d  # later (slower) sources are not scanned
        drivers += batch
    by_name = [d for d in drivers if d.name == ref]
    if by_name:
        from packaging.version import Version

        return max(by_name, key=lambda d: Version(d.version))
    raise DriverNotFound(ref)


def matching_drivers(app: str, app_version: str, scope: str | None = None) -> list[DriverMeta]:
    return [
        d
        for d in all_drivers()
        if d.app == app
        and (scope is None or d.scope == scope)
        and version_matches(d.app_version_match, app_version)
    ]


def load_driver_class(meta: DriverMeta) -> Any:
    """Import the class named by a python driver's `entrypoint` (`file.py:Class` or `mod:Class`)."""
    if not meta.entrypoint:
        raise BadInput(f"driver {meta.ref} is a container driver, not a python class")
    target, _, cls_name = meta.entrypoint.rpartition(":")
    if not target or not cls_name:
        raise BadInput(f"driver {meta.ref}: entrypoint must be 'file.py:Class' or 'module:Class'")
    if target.endswith(".py"):
        file = Path(meta.path or ".") / target
        if not file.is_file():
            raise BadInput(f"driver {meta.ref}: field 'entrypoint': no file {file}")
        module = import_file(file)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as e:
            raise BadInput(f"driver {meta.ref}: cannot import {target}: {e}") from e
    cls = module
    for part in cls_name.split("."):
        cls = getattr(cls, part, None)
        if cls is None:
            raise BadInput(f"driver {meta.ref}: field 'entrypoint': {target} has no class "
                           f"{cls_name}")
    return cls
