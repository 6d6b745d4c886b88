"""Runtime benchmark: `oca service add --recipe redis` (image cached) to ready, and `rm`,
against a raw `docker run` + PING readiness loop and `docker rm -f`, in the same run.

Goals (issue 3): add ≤ 1.5× raw and ≤ 1.5 s; rm ≤ 1 s. Every oca figure is a whole CLI
process (python start-up included), as a user or a script would see it.

    .venv/bin/python bench/runtime.py [--rounds 5] [--base]

`--base` also times building the offline base image once (`oca image base` with a throwaway
tag, then deleted) and the no-op `scripts/engine.sh` on a machine already set up.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from oca.net import free_port, redis_ready, wait_until  # noqa: E402

OCA = [sys.executable, "-m", "oca"]
IMAGE = "oca/redis:7.0"


def sh(cmd: list[str], env: dict[str, str] | None = None) -> str:
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)  # noqa: S603
    if p.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{p.stderr}")
    return p.stdout.strip()


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


CPU: dict[str, list[float]] = {"raw": [], "oca": []}


def raw_round() -> tuple[float, float]:
    name = f"bench-raw-{uuid.uuid4().hex[:8]}"
    port = free_port()
    c0 = child_cpu()
    t0 = time.perf_counter()
    sh(["docker", "run", "-d", "--init", "--name", name, "--network", "oca_network",
        "--pull", "never", "-p", f"127.0.0.1:{port}:6379", IMAGE,
        "redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", ""])
    assert wait_until(lambda: redis_ready("127.0.0.1", port), 30, every=0.01)
    up = time.perf_counter() - t0
    CPU["raw"].append(child_cpu() - c0)
    t0 = time.perf_counter()
    sh(["docker", "rm", "-f", name])
    return up, time.perf_counter() - t0


def oca_round(env: dict[str, str]) -> tuple[float, float]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    c0 = child_cpu()
    t0 = time.perf_counter()
    sh([*OCA, "service", "add", name, "--recipe", "redis"], env)
    up = time.perf_counter() - t0
    CPU["oca"].append(child_cpu() - c0)
    # independent check that it really is ready when add returns
    loc = sh([*OCA, "service", "show", name, "--json"], env)
    import json

    host, port = json.loads(loc)["locations"]["local"].rsplit(":", 1)
    assert redis_ready(host, int(port)), "oca returned before redis answered"
    t0 = time.perf_counter()
    sh([*OCA, "service", "rm", name], env)
    return up, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--base", action="store_true", help="also time `oca image base` once")
    args = ap.parse_args()

    home = tempfile.mkdtemp(prefix="oca-bench-")
    env = {**os.environ, "OCA_HOME": home}
    sh([*OCA, "image", "build", "redis"], env)  # cached image: the goal is about start-up
    sh(["docker", "network", "inspect", "oca_network"]) if subprocess.run(
        ["docker", "network", "inspect", "oca_network"], capture_output=True
    ).returncode == 0 else sh(["docker", "network", "create", "oca_network"])
    raw_round()
    oca_round(env)  # warm-up: page cache, image layers
    raw_up, raw_rm, oca_up, oca_rm = [], [], [], []
    for _ in range(args.rounds):
        a, b = raw_round()
        raw_up.append(a)
        raw_rm.append(b)
        a, b = oca_round(env)
        oca_up.append(a)
        oca_rm.append(b)
    shutil.rmtree(home, ignore_errors=True)

    print("raw up", " ".join(f"{x:.2f}" for x in raw_up))
    print("oca up", " ".join(f"{x:.2f}" for x in oca_up))
    med = statistics.median
    print(f"rounds: {args.rounds} (median; min-max)")
    print(f"raw docker run + PING loop : {med(raw_up):.3f} s ({min(raw_up):.3f}-{max(raw_up):.3f})")
    print(f"oca service add --recipe   : {med(oca_up):.3f} s ({min(oca_up):.3f}-{max(oca_up):.3f})"
          f"  ratio {med(oca_up) / med(raw_up):.2f}x  goal <= 1.5x and <= 1.5 s")
    print(f"raw docker rm -f           : {med(raw_rm):.3f} s")
    print(f"oca service rm             : {med(oca_rm):.3f} s ({min(oca_rm):.3f}-{max(oca_rm):.3f})"
          f"  ratio {med(oca_rm) / med(raw_rm):.2f}x  goal <= 1 s")
    print(f"client CPU per start (user+sys of the processes run): raw "
          f"{med(CPU['raw']):.3f} s, oca {med(CPU['oca']):.3f} s")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    t0 = time.perf_counter()
    sh([sys.executable, "-c", "pass"])
    print(f"python start-up alone      : {time.perf_counter() - t0:.3f} s")

    if args.base:
        t0 = time.perf_counter()
        sh([str(ROOT / "scripts" / "engine.sh")])
        print(f"scripts/engine.sh (set up) : {time.perf_counter() - t0:.2f} s")
        tag = "oca/debian:bench-test"
        out = sh([*OCA, "--json", "image", "base", "--tag", tag, "--force"], env)
        sh(["docker", "image", "rm", tag])
        print(f"oca image base (fresh)     : {out}")


if __name__ == "__main__":
    main()
