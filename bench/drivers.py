"""Driver mechanism overheads, each against its raw baseline measured in the same run.

1. The REST factory (oca.contract.rest): a python driver served as a process by
   `python -m oca.contract.rest`, vs a hand-written FastAPI app returning the same JSON from
   the same driver instance, both under uvicorn, called over keep-alive HTTP.
   Calls alternate between the two servers so both see the same machine load.
2. Discovery: `get_driver` of a native driver (what every call does) and `all_drivers` with
   20 plugin folders and 5 loose-file plugins, vs reading the same metadata.json files raw.

Run: .venv/bin/python bench/drivers.py
Goal: the factory within 1.3x the hand-written app (p50 per call).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE = '''
import sys
sys.path.insert(0, {root!r})
from fastapi import FastAPI, Request
from oca import discovery
cls = discovery.load_driver_class(discovery.get_driver("echo-db"))
drv = cls([], {{}})
drv.create_table("t", [{{"name": "id", "datatype": "int"}}, {{"name": "name", "datatype": "text"}}],
                 ["id"])
drv.insert("t", field_values=[{{"id": i, "name": f"n{{i}}"}} for i in range(20)])
app = FastAPI()

@app.get("/table/{{table}}/record")
def select(table: str, request: Request):
    return drv.select(table, request.query_params.get("dql"))
'''


def wait_http(url: str, proc: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if proc.poll() is not None:
                out = proc.stdout.read() if proc.stdout else ""
                raise SystemExit(f"server exited: {out}") from None
            time.sleep(0.05)
    raise SystemExit(f"{url} never answered")


def p50_interleaved(urls: list[str], n: int, headers: dict[str, str]) -> list[float]:
    """Median per-call time of each URL, calls alternated so both see the same load."""
    import httpx

    times: list[list[float]] = [[] for _ in urls]
    clients = [httpx.Client(timeout=10, headers=headers) for _ in urls]
    try:
        for i in range(n + 50):
            for j, (c, url) in enumerate(zip(clients, urls, strict=True)):
                t0 = time.perf_counter()
                r = c.get(url)
                dt = time.perf_counter() - t0
                assert r.status_code == 200, r.text
                if i >= 50:  # warm-up
                    times[j].append(dt)
    finally:
        for c in clients:
            c.close()
    return [statistics.median(t) for t in times]


def bench_rest(n: int = 1500) -> None:
    from oca.net import free_port

    work = Path(tempfile.mkdtemp(prefix="oca-bench-drivers-"))
    bare_file = work / "bare.py"
    bare_file.write_text(BARE.format(root=str(ROOT)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = []
    try:
        pb, pf = free_port(), free_port()
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "--app-dir", str(work),
                                 "bare:app", "--port", str(pb), "--log-level", "warning"],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        procs.append(bare)
        target = f"{ROOT / 'drivers/echo-db-0.1.0/driver.py'}:EchoDbDriver"
        fact = subprocess.Popen([sys.executable, "-m", "oca.contract.rest", target, "--port",
                                 str(pf)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        procs.append(fact)
        wait_http(f"http://127.0.0.1:{pb}/table/t/record", bare)
        wait_http(f"http://127.0.0.1:{pf}/ping", fact)
        import httpx

        h = {"Hosts": "", "Metadata": "null"}
        httpx.post(f"http://127.0.0.1:{pf}/table", headers=h, json={
            "name": "t", "columns": [{"name": "id", "datatype": "int"},
                                     {"name": "name", "datatype": "text"}],
            "primary_key": ["id"]}).raise_for_status()
        httpx.post(f"http://127.0.0.1:{pf}/table/t/record", headers=h, json={
            "field_values": [{"id": i, "name": f"n{i}"} for i in range(20)]}).raise_for_status()
        q = "?dql=" + json.dumps({"where": {"id": {"<": 10}}})
        t_bare, t_fact = p50_interleaved([f"http://127.0.0.1:{pb}/table/t/record{q}",
                                          f"http://127.0.0.1:{pf}/table/t/record{q}"], n, h)
        print(f"select over HTTP, hand-written FastAPI app  p50 {t_bare * 1e6:8.0f} us")
        print(f"select over HTTP, oca.contract.rest factory p50 {t_fact * 1e6:8.0f} us   "
              f"{t_fact / t_bare:4.2f}x (goal <= 1.3x)")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def bench_discovery(n: int = 200) -> None:
    home = Path(tempfile.mkdtemp(prefix="oca-bench-home-"))
    os.environ["OCA_HOME"] = str(home)
    src = ROOT / "drivers" / "echo-db-0.1.0"
    for i in range(20):
        dest = home / "drivers" / f"p{i}-0.1.0"
        shutil.copytree(src, dest)
        meta = json.loads((dest / "metadata.json").read_text())
        meta["name"] = f"p{i}"
        (dest / "metadata.json").write_text(json.dumps(meta))
    (home / "plugins").mkdir()
    for i in range(5):
        (home / "plugins" / f"loose{i}.py").write_text(
            "from oca.contract.db import DbDriver\n"
            f"class L(DbDriver):\n    metadata = {{'name': 'loose{i}', 'version': '1.0',"
            " 'app': 'x', 'app_version_match': '>=0'}\n")
    from oca import config, discovery

    def timed(fn) -> float:  # noqa: ANN001
        fn()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - t0) / n

    def raw() -> None:
        for root in (config.native_drivers_dir(), config.plugin_drivers_dir()):
            for d in sorted(root.iterdir()):
                if (d / "metadata.json").is_file():
                    json.loads((d / "metadata.json").read_text())

    t_raw = timed(raw)
    t_get = timed(lambda: discovery.get_driver("echo-db-0.1.0"))
    t_all = timed(discovery.all_drivers)
    count = len(discovery.all_drivers())
    print(f"raw: read every metadata.json ({count - 5} folders)  {t_raw * 1e3:7.2f} ms")
    print(f"get_driver(native ref)                       {t_get * 1e3:7.2f} ms   "
          f"{t_get / t_raw:4.2f}x raw")
    print(f"all_drivers() ({count}: +5 loose files, entry points) {t_all * 1e3:7.2f} ms   "
          f"{t_all / t_raw:4.2f}x raw")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    bench_rest()
    bench_discovery()
