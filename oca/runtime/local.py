"""The `local` runtime: a supervised background process on this machine (the embedded default).

The process runs in its own session so it survives the CLI's exit. Its pid, port and command
are kept in `$OCA_HOME/run/<service id>.json`, its output in `<service id>.log`; a pid whose
process is gone, or now runs something else, is detected as stale.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from oca import config
from oca.errors import BackendUnreachable, BadInput
from oca.models import Service, ServiceBase
from oca.net import free_port, health_check, split_hostport, wait_until
from oca.recipes import Recipe, get_recipe
from oca.runtime.base import Runtime, Status


def _state_file(sid: str) -> Path:
    return config.run_dir() / f"{sid}.json"


def log_file(sid: str) -> Path:
    return config.run_dir() / f"{sid}.log"


def data_dir(sid: str) -> Path:
    return config.run_dir() / sid


def _read_state(sid: str) -> dict[str, Any] | None:
    try:
        return json.loads(_state_file(sid).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _alive(state: dict[str, Any] | None) -> bool:
    if not state:
        return False
    pid = int(state["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a recycled pid running something else is stale
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return True
    return stat[0] != "Z" and state["module"] in cmdline


def ready_check(recipe: Recipe, host: str, port: int) -> bool:
    return health_check(recipe.health, host, port)


def last_lines(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


class LocalRuntime(Runtime):
    name = "local"

    def _recipe(self, recipe_name: str | None) -> Recipe:
        if not recipe_name:
            raise BadInput("the local runtime needs --recipe")
        recipe = get_recipe(recipe_name)
        if not recipe.local_module:
            raise BadInput(
                f"recipe {recipe.name} cannot run as a local process",
                hint="use --runtime docker for it",
            )
        return recipe

    def _spawn(self, sid: str, recipe: Recipe, port: int) -> None:
        data = data_dir(sid)
        data.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", recipe.local_module or "", "--host", "127.0.0.1",
               "--port", str(port), "--data", str(data), *recipe.local_args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(log_file(sid), "ab") as log:
            proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, env=env, cwd=data,
            )
        state = {"pid": proc.pid, "port": port, "module": recipe.local_module,
                 "recipe": recipe.name, "started": time.time()}
        _state_file(sid).write_text(json.dumps(state))
        ok = wait_until(lambda: ready_check(recipe, "127.0.0.1", port), recipe.ready_timeout,
                        alive=lambda: proc.poll() is None)
        if not ok:
            self._kill(sid)
            raise BackendUnreachable(
                f"{recipe.name} did not become ready on 127.0.0.1:{port} "
                f"within {recipe.ready_timeout:g} s; last log lines:\n{last_lines(log_file(sid))}",
                hint=f"see {log_file(sid)}",
            )

    def deploy(self, spec: ServiceBase, service_id: str) -> dict[str, str]:
        recipe = self._recipe(spec.recipe)
        self._spawn(service_id, recipe, free_port())
        port = _read_state(service_id)["port"]  # type: ignore[index]
        return {"local": f"127.0.0.1:{port}"}

    def status(self, svc: Service) -> Status:
        return "running" if _alive(_read_state(svc.id)) else "stopped"

    def start(self, svc: Service) -> None:
        if self.status(svc) == "running":
            return
        _, port = split_hostport(next(iter(svc.locations.values())))
        self._spawn(svc.id, self._recipe(svc.recipe), port)

    def _kill(self, sid: str, grace: float = 5.0) -> None:
        state = _read_state(sid)
        if _alive(state):
            pgid = int(state["pid"])  # type: ignore[index]
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            if not wait_until(lambda: not _alive(state), grace):
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_until(lambda: not _alive(state), 2.0)
        _state_file(sid).unlink(missing_ok=True)

    def stop(self, svc: Service) -> None:
        self._kill(svc.id)

    def remove(self, svc: Service, purge: bool = False) -> None:
        self._kill(svc.id)
        log_file(svc.id).unlink(missing_ok=True)
        if purge:
            import shutil

            shutil.rmtree(data_dir(svc.id), ignore_errors=True)

    def logs(self, svc: Service, follow: bool = False, tail: int = 100) -> Iterator[str]:
        path = log_file(svc.id)
        if not path.exists():
            return
        with open(path, errors="replace") as f:
            yield from f.readlines()[-tail:]
            while follow:
                line = f.readline()
                if line:
                    yield line
                else:
                    time.sleep(0.2)
