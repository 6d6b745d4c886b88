"""db test fixtures: a real PostgreSQL container started the way users do
(`oca service add NAME --recipe postgres`), once per session, and a per-backend switch.
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

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PgBackend:
    home: Path
    name: str
    location: str


def _oca(home: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "oca", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, "OCA_HOME": str(home)})


@pytest.fixture(scope="session")
def pg_backend(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> PgBackend:
    home = tmp_path_factory.mktemp("pg-home")
    name = f"pg-{uuid.uuid4().hex[:8]}"
    p = _oca(home, "--json", "service", "add", name, "--recipe", "postgres")
    assert p.returncode == 0, f"oca service add --recipe postgres failed: {p.stderr}{p.stdout}"
    svc = json.loads(p.stdout)
    assert svc["runtime"] == "docker" and svc["driver"].startswith("postgres-"), svc
    yield PgBackend(home, name, next(iter(svc["locations"].values())))
    _oca(home, "service", "rm", name, "--purge", timeout=120)


@dataclass
class Backend:
    """Where a test's db calls go: the default SQLite in the test's home, or the pg service."""

    kind: str
    home: Path
    service: str | None

    def args(self) -> list[str]:
        return ["--service", self.service] if self.service else []


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, oca_home: Path,
            monkeypatch: pytest.MonkeyPatch) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite", oca_home, None)
    pg: PgBackend = request.getfixturevalue("pg_backend")
    monkeypatch.setenv("OCA_HOME", str(pg.home))
    return Backend("postgres", pg.home, pg.name)


@pytest.fixture
def run(oca, backend: Backend):  # noqa: ANN001, ANN201
    """The real CLI against the test's backend: run("db", "select", T, ...)."""

    def go(*args: str, input: str | None = None):  # noqa: ANN202
        args = list(args)
        if args and args[0] == "db" and backend.service:
            args = [*args, "--service", backend.service]
        return oca(*args, input=input, env={"OCA_HOME": str(backend.home)})

    return go


@pytest.fixture
def table(suffix: str) -> str:
    return f"t_{suffix}"
