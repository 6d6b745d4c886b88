"""Shared fixtures: isolated state for every test, a CLI runner, and the Docker gate.

Every test gets its own `$OCA_HOME`. Tests that need Docker use the `docker_engine` fixture:
it skips with a visible reason on a developer machine without an engine, and FAILS in CI
(`CI=true`), never skipping silently.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OCA = [sys.executable, "-m", "oca"]


@pytest.fixture(autouse=True)
def oca_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "oca-home"
    home.mkdir()
    monkeypatch.setenv("OCA_HOME", str(home))
    monkeypatch.delenv("OCA_DEBUG", raising=False)
    return home


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self):  # noqa: ANN201
        return json.loads(self.out)

    def jsonl(self) -> list:
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


@pytest.fixture
def oca(oca_home: Path):  # noqa: ANN201
    """Run the real `oca` CLI in a subprocess: oca("service", "ls", input=b"...")."""

    def run(*args: str, input: bytes | str | None = None, timeout: float = 300,
            env: dict[str, str] | None = None) -> Result:
        data = input.encode() if isinstance(input, str) else input
        p = subprocess.run(
            [*OCA, *args], input=data, capture_output=True, timeout=timeout,
            env={**os.environ, "OCA_HOME": str(oca_home), **(env or {})}, cwd=ROOT,
        )
        return Result(p.returncode, p.stdout.decode(errors="replace"),
                      p.stderr.decode(errors="replace"))

    return run


def engine_reachable() -> bool:
    try:
        p = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                           capture_output=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Require a Docker engine: fail in CI, skip (with the reason shown) elsewhere."""
    if engine_reachable():
        return
    msg = "no Docker engine reachable (run scripts/engine.sh)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture
def suffix() -> str:
    """A random suffix for container, network and service names so runs never collide."""
    return uuid.uuid4().hex[:8]
