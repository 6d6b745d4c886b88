"""Finding drivers and matching services to them.

Native drivers live in `drivers/<name>-<version>/metadata.json`; plugin drivers in
`$OCA_HOME/drivers/<folder>/metadata.json`. Both are read the same way.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from oca import config
from oca.errors import BadInput, DriverNotFound
from oca.models import DriverMeta


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


def check_specifier(spec: str) -> None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        SpecifierSet(spec)
    except InvalidSpecifier as e:
        raise BadInput(f"invalid app_version_match {spec!r}: {e}") from e


def read_metadata(folder: Path, source_type: str) -> DriverMeta:
    """Parse and validate one driver folder's metadata.json; errors name the bad field."""
    from pydantic import ValidationError

    path = folder / "metadata.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise BadInput(f"{folder}: no metadata.json") from e
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}: not valid JSON ({e})") from e
    if not isinstance(raw, dict):
        raise BadInput(f"{path}: must hold a JSON object")
    raw = {**raw, "source_type": source_type, "path": str(folder)}
    try:
        meta = DriverMeta.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "metadata"
        raise BadInput(f"{path}: field {field!r}: {err['msg']}") from e
    check_specifier(meta.app_version_match)
    return meta


def _scan(root: Path, source_type: str) -> list[DriverMeta]:
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(root.iterdir()):
        if (folder / "metadata.json").is_file():
            try:
                found.append(read_metadata(folder, source_type))
            except BadInput:
                continue  # a broken plugin must not break listing; `oca driver add` reports it
    return found


def all_drivers() -> list[DriverMeta]:
    """Native drivers first, then plugins."""
    return _scan(config.native_drivers_dir(), "native") + _scan(
        config.plugin_drivers_dir(), "plugin"
    )


def get_driver(ref: str) -> DriverMeta:
    """A driver by `name-version`, or by name alone (the newest version)."""
    drivers = all_drivers()
    for d in drivers:
        if d.ref == ref:
            return d
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
    target, _, cls_name = meta.entrypoint.partition(":")
    if not cls_name:
        raise BadInput(f"driver {meta.ref}: entrypoint must be 'file.py:Class' or 'module:Class'")
    if target.endswith(".py"):
        file = Path(meta.path or ".") / target
        mod_name = f"oca_driver_{meta.name.replace('-', '_')}_{meta.version.replace('.', '_')}"
        module = sys.modules.get(mod_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(mod_name, file)
            if spec is None or spec.loader is None:
                raise BadInput(f"driver {meta.ref}: cannot load {file}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[mod_name] = module
            spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    try:
        return getattr(module, cls_name)
    except AttributeError as e:
        raise BadInput(f"driver {meta.ref}: {target} has no class {cls_name}") from e
