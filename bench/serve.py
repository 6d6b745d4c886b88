"""`oca serve` throughput and latency vs a bare FastAPI echo and vs the driver called directly.

Run: .venv/bin/python bench/serve.py [--seconds 5] [--connections 4] [--rounds 5]

In one run, on this machine:
  1. a bare FastAPI app under uvicorn: one `async def` route returning a constant dict, and
     the same as a plain `def` (run in FastAPI's thread pool, as oca's handlers are, so a
     slow backend never stalls the event loop);
  2. `oca serve --no-worker`: `GET /service/{id}/heartbeat` (echo-db driver: registry lookup,
     driver ping) and `GET /db/{id}/table/t/record?sync=true` (sqlite driver, 10 rows);
  3. the same sqlite select and ping through the driver instance directly (no HTTP) and
     through `oca.calls.call` (the core call path, no HTTP).
Both servers run as one uvicorn process each; the load generator is a raw-socket
HTTP/1.1 keep-alive client with N connections (threads), so it costs the same for both.
Goals: heartbeat >= 0.7x the bare echo's req/s; select p50 <= direct driver p50 + 2 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

BARE_APP = textwrap.dedent('''
    from fastapi import FastAPI
    app = FastAPI()

    @app.get("/service/{service_id}/heartbeat")
    async def heartbeat(service_id: str) -> dict:
        return {"status": "ok", "backend": "echo", "hosts": ["127.0.0.1:5552"]}

    @app.get("/sync/{service_id}/heartbeat")
    def heartbeat_sync(service_id: str) -> dict:  # a plain def: FastAPI's thread pool
        return {"status": "ok", "backend": "echo", "hosts": ["127.0.0.1:5552"]}
''')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port: int, path: str = "/", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _ = Conn(port).get(path)
            if status < 500:
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not answer {path}")


class Conn:
    """One keep-alive HTTP/1.1 connection; GET only, Content-Length bodies only."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def get(self, path: str) -> tuple[int, bytes]:
        req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n\r\n".encode()
        self.sock.sendall(req)
        while b"\r\n\r\n" not in self.buf:
            self._read()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(rest) < length:
            self.buf = rest
            self._read()
            rest = self.buf
        body, self.buf = rest[:length], rest[length:]
        return status, body

    def _read(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise OSError("connection closed")
        self.buf += chunk


def load(port: int, path: str, seconds: float, connections: int) -> dict[str, float]:
    """Closed-loop load: each connection sends its next request when the last one returned."""
    lat: list[list[float]] = [[] for _ in range(connections)]
    errors = [0]
    stop = time.monotonic() + seconds
    warm = Conn(port)
    for _ in range(50):
        warm.get(path)

    def worker(i: int) -> None:
        c = Conn(port)
        out = lat[i]
        while True:
            t0 = time.perf_counter()
            if t0 >= stop:
                break
            status, _ = c.get(path)
            out.append(time.perf_counter() - t0)
            if status != 200:
                errors[0] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    all_lat = sorted(x for xs in lat for x in xs)
    if errors[0]:
        raise SystemExit(f"{errors[0]} non-200 answers from {path}")
    return {"rps": len(all_lat) / elapsed, "lat": all_lat}


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k] * 1000


def direct(fn, seconds: float) -> dict[str, float]:  # noqa: ANN001
    for _ in range(50):
        fn()
    lat = []
    stop = time.monotonic() + seconds
    start = time.monotonic()
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t0)
    elapsed = time.monotonic() - start
    return {"rps": len(lat) / elapsed, "lat": lat}


def merge(runs: list[dict]) -> dict[str, float]:
    """Median req/s over the rounds; percentiles over every latency of every round."""
    lat = sorted(x for r in runs for x in r["lat"])
    return {"rps": statistics.median(r["rps"] for r in runs), "p50": pct(lat, 50),
            "p99": pct(lat, 99), "n": len(lat)}


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="oca-bench-serve-"))
    os.environ["OCA_HOME"] = str(home)
    os.environ.pop("OCA_API_TOKEN", None)
    env = {**os.environ, "OCA_HOME": str(home)}

    from oca import calls, discovery, services
    from oca.models import ServiceBase

    echo = services.add(ServiceBase(name="echo", scope="db", app="echo", app_version="1",
                                    locations={"node1": "127.0.0.1:5552"}))
    lite = services.add(ServiceBase(
        name="lite", scope="db", app="sqlite", app_version=sqlite3.sqlite_version,
        runtime="embedded", locations={"path": str(home / "bench.sqlite")}))
    calls.call(lite, "create_table", name="t", columns=[
        {"name": "id", "datatype": "int"}, {"name": "name", "datatype": "text"},
        {"name": "score", "datatype": "float"}], primary_key=["id"])
    calls.call(lite, "insert", table="t",
               field_values=[{"id": i, "name": f"user{i}", "score": i / 3} for i in range(10)])
    dql = {"where": {"id": {">=": 0}}, "limit": 10}
    select_path = (f"/db/{lite.id}/table/t/record?sync=true&dql_options="
                   + quote(json.dumps(dql, separators=(",", ":")), safe=""))

    bare_file = home / "bare_app.py"
    bare_file.write_text(BARE_APP)
    bare_port, oca_port = free_port(), free_port()
    procs = [
        spawn([PY, "-m", "uvicorn", "--app-dir", str(home), "bare_app:app", "--port",
               str(bare_port), "--log-level", "warning", "--no-access-log"], env,
              home / "bare.log"),
        spawn([PY, "-m", "oca", "serve", "--port", str(oca_port), "--no-worker"], env,
              home / "oca.log"),
    ]
    try:
        wait_http(bare_port, "/service/x/heartbeat")
        wait_http(oca_port, "/")
        s, body = Conn(oca_port).get(select_path)
        assert s == 200 and len(json.loads(body)) == 10, body
        s, body = Conn(oca_port).get(f"/service/{echo.id}/heartbeat")
        assert s == 200, body

        meta = discovery.get_driver(lite.driver)
        drv = discovery.load_driver_class(meta)(lite.hosts(), lite.meta)
        echo_drv = discovery.load_driver_class(discovery.get_driver(echo.driver))(
            echo.hosts(), echo.meta)
        sec, conns, rounds = args.seconds, args.connections, args.rounds
        # (throughput with N connections, latency with 1 connection: unloaded round trips)
        http = {
            "bare FastAPI echo (HTTP)": (bare_port, "/service/x/heartbeat"),
            "bare FastAPI echo, def (HTTP)": (bare_port, "/sync/x/heartbeat"),
            "oca serve heartbeat (HTTP)": (oca_port, f"/service/{echo.id}/heartbeat"),
            "oca serve db select (HTTP)": (oca_port, select_path),
        }
        targets = {}
        for name, (port, path) in http.items():
            targets[name] = (lambda t, port=port, path=path: load(port, path, t, conns),
                             lambda t, port=port, path=path: load(port, path, t, 1))
        for name, fn in {
            "echo-db ping, driver direct": echo_drv.ping,
            "sqlite select, driver direct": lambda: drv.select("t", dql),
            "sqlite select, oca.calls.call":
                lambda: calls.call(lite, "select", table="t", dql=dql),
        }.items():
            targets[name] = (lambda t, fn=fn: direct(fn, t),) * 2
        # Interleaved rounds: a burst of load from elsewhere on the machine hits every
        # target alike instead of one of them.
        runs: dict[str, list[dict]] = {k: [] for k in targets}
        lats: dict[str, list[dict]] = {k: [] for k in targets}
        for _ in range(rounds):
            for name, (thr, lat) in targets.items():
                runs[name].append(thr(sec / rounds / 2))
                lats[name].append(lat(sec / rounds / 2))
        rows = {k: {**merge(lats[k]), "rps": merge(runs[k])["rps"]} for k in targets}
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)

    print(f"{'':34s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s} {'n':>8s}")
    print(f"{'':34s} {f'({conns} conns)':>9s} {'(1 connection)':>17s}")
    for name, r in rows.items():
        print(f"{name:34s} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['n']:8d}")
    bare = rows["bare FastAPI echo (HTTP)"]
    hb = rows["oca serve heartbeat (HTTP)"]
    sel = rows["oca serve db select (HTTP)"]
    drv_sel = rows["sqlite select, driver direct"]
    ratio = hb["rps"] / bare["rps"]
    added = sel["p50"] - drv_sel["p50"]
    sync_ratio = hb["rps"] / rows["bare FastAPI echo, def (HTTP)"]["rps"]
    print(f"\nheartbeat vs bare echo: {ratio:.2f}x req/s (goal >= 0.70x) "
          f"{'OK' if ratio >= 0.7 else 'MISSED'}; vs a bare `def` echo (same thread-pool "
          f"hop as oca's handlers): {sync_ratio:.2f}x")
    print(f"db select p50 added over the direct driver: {added:.2f} ms (goal <= 2 ms) "
          f"{'OK' if added <= 2 else 'MISSED'}")
    print(f"(connections={conns}, {sec:g} s per row in {rounds} interleaved rounds, "
          f"{os.cpu_count()} CPUs shared by the client and the servers; load average "
          f"{os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
