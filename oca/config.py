"""Where oca keeps its state, and the few settings read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def home() -> Path:
    """`$OCA_HOME`, else the platform's user data dir (`~/.local/share/oca`). Created on use."""
    env = os.environ.get("OCA_HOME")
    if env:
        path = Path(env).expanduser()
    else:
        data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        path = Path(data) / "oca"
    path.mkdir(parents=True, exist_ok=True)
    return path


def share_dir(name: str) -> Path:
    """A shipped folder (`drivers`, `compose`, `templates`): in a wheel or in the source tree."""
    packaged = PACKAGE_DIR / "_share" / name
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / name


def native_drivers_dir() -> Path:
    return share_dir("drivers")


def plugin_drivers_dir() -> Path:
    return home() / "drivers"


def registry_path() -> Path:
    return home() / "registry.json"


def run_dir() -> Path:
    """Pid files, logs and sockets of local workloads."""
    path = home() / "run"
    path.mkdir(parents=True, exist_ok=True)
    return path


def debug() -> bool:
    return os.environ.get("OCA_DEBUG", "") not in ("", "0", "false", "no")
