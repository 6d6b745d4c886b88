"""Whole-process timing helpers shared by the benchmarks."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MINIMAL_TYPER_APP = '''
import typer
app = typer.Typer()
@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    print(name)
@app.command()
def bye() -> None:
    """Say bye."""
if __name__ == "__main__":
    app()
'''


def minimal_typer_app() -> Path:
    path = Path(tempfile.gettempdir()) / "oca_bench_minimal_typer.py"
    path.write_text(MINIMAL_TYPER_APP)
    return path


def median_run(cmd: list[str], runs: int = 15, env: dict[str, str] | None = None,
               warmup: int = 2) -> float:
    """Median wall time in seconds of running `cmd` to completion."""
    times = []
    for i in range(warmup + runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                       check=True)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


PY = sys.executable
