"""CLI start-up: `oca --help` and `oca service ls --json` (100 services) vs a minimal typer app.

Run: .venv/bin/python bench/cli.py   (whole-process timing, median of 15 runs each)
Goals: `oca --help` <= 1.15x the minimal typer app's `--help`; `service ls --json` <= 1.5x.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import PY, median_run, minimal_typer_app  # noqa: E402


def main() -> None:
    home = tempfile.mkdtemp(prefix="oca-bench-cli-")
    env = {**os.environ, "OCA_HOME": home}
    os.environ["OCA_HOME"] = home
    from oca.models import ServiceBase
    from oca.registry import Registry

    reg = Registry()
    for i in range(100):
        reg.add(ServiceBase(name=f"svc{i}", scope="db", locations={"node1": f"10.0.0.{i}:5432"},
                            meta={"dbname": "x", "password": "secret"}))
    oca = [PY, "-m", "oca"]
    rows = {
        "python -c pass": median_run([PY, "-c", "pass"], env=env),
        "minimal typer app --help": median_run([PY, str(minimal_typer_app()), "--help"], env=env),
        "minimal typer app hello (run)": median_run([PY, str(minimal_typer_app()), "hello"],
                                                    env=env),
        "oca --help": median_run([*oca, "--help"], env=env),
        "oca service ls --json (100)": median_run([*oca, "service", "ls", "--json"], env=env),
    }
    base = rows["minimal typer app --help"]
    for name, t in rows.items():
        print(f"{name:32s} {t * 1000:7.1f} ms   {t / base:5.2f}x minimal typer")
    print(f"goal: oca --help <= 1.15x -> {rows['oca --help'] / base:.2f}x; "
          f"service ls --json <= 1.5x -> {rows['oca service ls --json (100)'] / base:.2f}x")


if __name__ == "__main__":
    main()
