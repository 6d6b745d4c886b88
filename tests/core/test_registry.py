"""The registry under concurrency and crashes, with real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from oca.ids import CONSONANTS, VOWELS, new_id
from oca.models import ServiceBase
from oca.registry import Registry

ROOT = Path(__file__).resolve().parents[2]


def test_ids_alternate_consonants_and_vowels() -> None:
    for _ in range(200):
        sid = new_id()
        assert len(sid) == 8
        assert all(c in CONSONANTS for c in sid[0::2])
        assert all(c in VOWELS for c in sid[1::2])


def test_64_concurrent_cli_adds_give_64_records(oca_home: Path) -> None:
    env = {**os.environ, "OCA_HOME": str(oca_home)}

    def add(i: int) -> int:
        p = subprocess.run(
            [sys.executable, "-m", "oca", "service", "add", f"svc{i}", "--scope", "db",
             "--location", f"127.0.0.1:{10000 + i}"],
            capture_output=True, env=env, timeout=120,
        )
        return p.returncode

    with ThreadPoolExecutor(max_workers=64) as pool:
        codes = list(pool.map(add, range(64)))
    assert codes == [0] * 64
    data = json.loads((oca_home / "registry.json").read_text())
    rows = list(data["services"].values())
    assert len(rows) == 64
    assert sorted(r["name"] for r in rows) == sorted(f"svc{i}" for i in range(64))
    assert len({r["id"] for r in rows}) == 64


def test_same_name_twice_is_a_conflict(oca) -> None:  # noqa: ANN001
    assert oca("service", "add", "dup", "--scope", "db", "-l", "127.0.0.1:1").code == 0
    before = (Path(os.environ["OCA_HOME"]) / "registry.json").read_bytes()
    r = oca("service", "add", "dup", "--scope", "db", "-l", "127.0.0.1:2")
    assert r.code == 4
    assert r.err.strip().splitlines()[0] == "error: service already exists: dup"
    assert len(r.err.strip().splitlines()) <= 2  # the error line and a hint, no traceback
    assert (Path(os.environ["OCA_HOME"]) / "registry.json").read_bytes() == before


WRITER = """
import sys
from oca.models import ServiceBase
from oca.registry import Registry
reg = Registry()
i = 0
while True:
    reg.add(ServiceBase(name=f"w{sys.argv[1]}-{i}", scope="db", locations={"n": "127.0.0.1:1"},
                        meta={"blob": "x" * 4000}))
    if i == 0:
        print("writing", flush=True)
    i += 1
"""


def test_sigkill_during_writes_never_corrupts(oca_home: Path) -> None:
    env = {**os.environ, "OCA_HOME": str(oca_home)}
    loads = 0
    for k in range(50):
        p = subprocess.Popen([sys.executable, "-c", WRITER, str(k)], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE)
        assert p.stdout is not None and p.stdout.readline() == b"writing\n"
        # Kill at varying points of the write stream, whatever the machine's load.
        time.sleep((k % 10) * 0.007)
        p.send_signal(signal.SIGKILL)
        p.wait()
        services = Registry(oca_home / "registry.json").list()
        loads += 1
        assert all(s.name.startswith("w") for s in services)
    assert loads == 50
    final = Registry(oca_home / "registry.json").list()
    assert len(final) > 0, "the writers should have written something in 50 runs"


def test_registry_round_trip_and_lookup_by_name_or_id(oca_home: Path) -> None:
    reg = Registry()
    svc = reg.add(ServiceBase(name="a", scope="db", locations={"n1": "h:1"}))
    assert reg.get("a").id == svc.id
    assert reg.get(svc.id).name == "a"
    updated = reg.update("a", {"description": "hello"})
    assert updated.description == "hello" and updated.id == svc.id
    assert reg.remove(svc.id).name == "a"
    assert reg.list() == []
