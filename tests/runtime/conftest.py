"""Fixtures of the runtime tests: python-on-whales' client and cleanup of what a test made."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def whales(docker_engine: None) -> Iterator[Any]:
    """python-on-whales' docker client; removes containers/volumes the test labelled."""
    from python_on_whales import docker

    yield docker


@pytest.fixture
def plugin_driver(oca_home: Path) -> Any:
    """Copy a container driver from fixtures/ into this test's plugin folder."""

    def install(name: str) -> Path:
        dest = oca_home / "drivers" / name
        shutil.copytree(FIXTURES / name, dest)
        return dest

    return install
