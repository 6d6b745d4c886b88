"""db: oca's in-process path vs psycopg directly, on the same PostgreSQL container.

Run: .venv/bin/python bench/db.py [--rows 10000] [--selects 1000] [--repeat 5]

Starts PostgreSQL the way users do (`oca service add NAME --recipe postgres`, in a temporary
$OCA_HOME), then measures in one run:
- bulk insert of N rows in one transaction: psycopg `executemany` (and, for reference, COPY)
  vs `oca.scopes.db.insert(table, records, service=NAME)`;
- M point selects by primary key: psycopg `conn.execute(...).fetchall()` vs
  `oca.scopes.db.select(table, where={"id": i}, service=NAME)` (service looked up by name
  on every call, as the CLI and `oca serve` do).
Goals: bulk >= 0.7x psycopg; point-select overhead <= 1 ms per call. Best of --repeat runs.
The service and its container are removed at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def records(n: int) -> list[dict]:
    return [{"id": i, "name": f"user {i}", "age": i % 90, "score": i / 7} for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--selects", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    os.environ["OCA_HOME"] = tempfile.mkdtemp(prefix="oca-bench-db-")
    import psycopg

    from oca import services
    from oca.models import ServiceBase
    from oca.scopes import db

    name = f"bench-pg-{uuid.uuid4().hex[:6]}"
    t0 = time.perf_counter()
    svc = services.add(ServiceBase(name=name, recipe="postgres", runtime="docker"))
    print(f"postgres service {name} ({svc.driver}) at {svc.hosts()[0]}: "
          f"ready in {time.perf_counter() - t0:.1f} s")
    try:
        host, _, port = svc.hosts()[0].rpartition(":")
        conn = psycopg.connect(host=host, port=int(port), user="postgres", dbname="postgres",
                               autocommit=True)
        cols = ["id:int", "name:text", "age:int", "score:float"]
        db.create_table("raw_t", cols, ["id"], service=name)
        db.create_table("oca_t", cols, ["id"], service=name)
        recs = records(args.rows)
        tuples = [(r["id"], r["name"], r["age"], r["score"]) for r in recs]
        insert = "INSERT INTO raw_t (id, name, age, score) VALUES (%s, %s, %s, %s)"

        def raw_bulk() -> None:
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(insert, tuples)

        def raw_copy() -> None:
            with conn.transaction(), conn.cursor() as cur, \
                    cur.copy("COPY raw_t (id, name, age, score) FROM STDIN") as cp:
                for t in tuples:
                    cp.write_row(t)

        def oca_bulk() -> None:
            assert db.insert("oca_t", recs, service=name) == {"count": args.rows}

        def timed(fn, table: str) -> float:  # noqa: ANN001
            best = float("inf")
            for _ in range(args.repeat):
                conn.execute(f"TRUNCATE {table}")
                t = time.perf_counter()
                fn()
                best = min(best, time.perf_counter() - t)
            return best

        oca_bulk()  # warm: connection, schema cache
        raw_t = timed(raw_bulk, "raw_t")
        copy_t = timed(raw_copy, "raw_t")
        oca_t = timed(oca_bulk, "oca_t")
        # both tables now hold the N rows of their last timed run

        ids = [(i * 7919) % args.rows for i in range(args.selects)]
        point = "SELECT * FROM raw_t WHERE id = %s"

        cpu: dict[str, list[float]] = {"raw": [], "oca": []}

        def raw_points() -> float:
            c, t = time.process_time(), time.perf_counter()
            for i in ids:
                conn.execute(point, (i,)).fetchall()
            cpu["raw"].append(time.process_time() - c)
            return time.perf_counter() - t

        def oca_points() -> float:
            c, t = time.process_time(), time.perf_counter()
            for i in ids:
                db.select("oca_t", where={"id": i}, service=name)
            cpu["oca"].append(time.process_time() - c)
            return time.perf_counter() - t

        assert db.select("oca_t", where={"id": 5}, service=name)[0]["name"] == "user 5"
        raw_runs, oca_runs = [], []
        for _ in range(args.repeat):
            raw_runs.append(raw_points())
            oca_runs.append(oca_points())
        raw_p, oca_p = min(raw_runs), min(oca_runs)
        cpu_over = (statistics.median(cpu["oca"]) - statistics.median(cpu["raw"])) * 1000 / \
            len(ids)

        n, m = args.rows, args.selects
        print(f"bulk insert {n} rows, one transaction (best of {args.repeat}):")
        print(f"  psycopg executemany  {raw_t * 1000:8.1f} ms  {n / raw_t:9.0f} rows/s")
        print(f"  psycopg COPY (ref)   {copy_t * 1000:8.1f} ms  {n / copy_t:9.0f} rows/s")
        print(f"  oca db.insert        {oca_t * 1000:8.1f} ms  {n / oca_t:9.0f} rows/s")
        print(f"  ratio oca/psycopg executemany = {raw_t / oca_t:.2f}x  (goal >= 0.7x); "
              f"vs COPY = {copy_t / oca_t:.2f}x")
        print(f"point selects x{m} (best of {args.repeat}; median "
              f"raw {statistics.median(raw_runs) * 1000 / m:.3f} ms, "
              f"oca {statistics.median(oca_runs) * 1000 / m:.3f} ms):")
        print(f"  psycopg              {raw_p * 1000 / m:8.3f} ms/call")
        print(f"  oca db.select        {oca_p * 1000 / m:8.3f} ms/call")
        print(f"  overhead = {(oca_p - raw_p) * 1000 / m:.3f} ms/call (goal <= 1 ms); "
              f"ratio oca/psycopg throughput = {raw_p / oca_p:.2f}x")
        print(f"  CPU time of this process: overhead {cpu_over:.3f} ms/call (median; "
              f"insensitive to other load on the machine)")
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        conn.close()
    finally:
        from oca import calls

        calls.close_all()
        services.remove(name, purge=True)


if __name__ == "__main__":
    main()
