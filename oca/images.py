"""Images built offline: oca's own Debian base, and backend images from `compose/<recipe>/`.

No registry is reachable on the machines oca targets, so nothing is pulled:
- the base is `debootstrap --variant=minbase bookworm` imported with `docker import`
  (`oca/debian:bookworm`), used whenever `debian:bookworm-slim` is not present locally;
- Python dependencies come from a host-side wheelhouse (`<context>/wheelhouse`, filled with
  `pip download` on the host, where PyPI is reachable), installed with `pip --no-index`;
- images are built with the classic builder (the `docker build` CLI without buildx), streamed
  so that a progress bar can follow its `Step N/M` lines and a failure shows the last lines.

A recipe image carries the label `oca.recipe.hash` (a hash of its build inputs): when the
image exists with the same hash, `build_recipe` returns at once without calling the builder.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from oca import config
from oca.errors import BadInput, EngineUnavailable, OcaError, Unavailable

DEFAULT_BASE = "debian:bookworm-slim"
OCA_BASE = "oca/debian:bookworm"
MIRROR = "http://deb.debian.org/debian"
GENERATED = {"wheelhouse", "_oca", "__pycache__", ".build-stamp"}
STEP_RE = re.compile(r"^Step (\d+)/(\d+) :")

Progress = Callable[..., None]


def _noop(*_a: Any, **_k: Any) -> None:
    return None


def docker_bin() -> str:
    return shutil.which("docker") or "docker"


def image_labels(tag: str) -> dict[str, str] | None:
    """The labels of a local image, or None when the image does not exist."""
    from oca.runtime import engine_api

    if engine_api.available():
        try:
            return engine_api.image_labels(tag)
        except EngineUnavailable:
            raise
        except OcaError:
            pass  # fall back to the CLI below
    p = subprocess.run(  # noqa: S603
        [docker_bin(), "image", "inspect", "--format", "{{json .Config.Labels}}", tag],
        capture_output=True, text=True,
    )
    if p.returncode != 0:
        if "No such image" in p.stderr or "No such object" in p.stderr:
            return None
        _engine_error(p.stderr)
        return None
    try:
        return json.loads(p.stdout) or {}
    except ValueError:
        return {}


def image_exists(tag: str) -> bool:
    return image_labels(tag) is not None


def _engine_error(stderr: str) -> None:
    if "Cannot connect" in stderr or "connection refused" in stderr.lower() \
            or "error during connect" in stderr:
        from oca.runtime.docker import engine_name

        raise EngineUnavailable(f"Docker engine unreachable at {engine_name()}",
                                hint="run oca doctor")


def base_image() -> str:
    """The `BASE_IMAGE` build argument: `$OCA_BASE_IMAGE`, `debian:bookworm-slim` when it is
    present locally, else oca's own base (built on first use)."""
    env = os.environ.get("OCA_BASE_IMAGE")
    if env:
        return env
    if image_exists(DEFAULT_BASE):
        return DEFAULT_BASE
    if not image_exists(OCA_BASE):
        build_base(OCA_BASE)
    return OCA_BASE


# --- the base image -----------------------------------------------------------------------

def _debootstrap_cmd(target: Path, suite: str, mirror: str) -> list[str]:
    exe = shutil.which("debootstrap")
    if not exe:
        raise Unavailable("debootstrap is not installed",
                          hint="apt-get install -y debootstrap (or run scripts/engine.sh)")
    cmd = [exe, "--variant=minbase", suite, str(target), mirror]
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if not sudo:
            raise Unavailable("building the base image needs root (debootstrap)",
                              hint="run `sudo oca image base`, or scripts/engine.sh as root")
        cmd = [sudo, "-n", *cmd]
    return cmd


def build_base(tag: str = OCA_BASE, suite: str = "bookworm", mirror: str = MIRROR,
               progress: Progress = _noop) -> dict[str, Any]:
    """`debootstrap --variant=minbase` + `docker import` as `tag`; returns timings.

    debootstrap prints `I: Retrieving/Validating/Unpacking/Configuring <pkg>` lines; the
    progress callback gets the share of the roughly 90 minbase packages done so far.
    """
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="oca-base-"))
    rootfs = work / "rootfs"
    tail: deque[str] = deque(maxlen=20)
    try:
        cmd = _debootstrap_cmd(rootfs, suite, mirror)
        progress(description="debootstrap: downloading", total=100, completed=0)
        phases = {"Retrieving": (0, 25), "Validating": (25, 35), "Extracting": (35, 45),
                  "Unpacking": (45, 70), "Configuring": (70, 95)}
        counts: dict[str, int] = {}
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                                text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail.append(line)
            word = line[3:].split(" ", 1)[0] if line.startswith("I: ") else ""
            if word in phases:
                counts[word] = counts.get(word, 0) + 1
                lo, hi = phases[word]
                done = lo + (hi - lo) * min(counts[word] / 90, 1.0)
                progress(description=f"debootstrap: {word.lower()}", completed=done)
        if proc.wait() != 0:
            raise OcaError("debootstrap failed; last lines:\n" + "\n".join(tail),
                           hint="check the mirror and free disk space")
        t_boot = time.monotonic() - started
        # Smaller, faster images: no downloaded .debs, no fsync during later apt layers.
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink(missing_ok=True)
        (rootfs / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
        (rootfs / "etc/dpkg/dpkg.cfg.d/unsafe-io").write_text("force-unsafe-io\n")
        progress(description="docker import", completed=95)
        t0 = time.monotonic()
        import_image(rootfs, tag)
        progress(description="done", completed=100)
        return {"tag": tag, "debootstrap_s": round(t_boot, 1),
                "import_s": round(time.monotonic() - t0, 1),
                "total_s": round(time.monotonic() - started, 1)}
    finally:
        if os.geteuid() == 0:
            shutil.rmtree(work, ignore_errors=True)
        elif shutil.which("sudo"):
            subprocess.run(["sudo", "-n", "rm", "-rf", str(work)], check=False)  # noqa: S603,S607


def import_image(rootfs: Path, tag: str) -> None:
    """`tar -C rootfs -c . | docker import - tag`, without a shell."""
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."],  # noqa: S603,S607
                           stdout=subprocess.PIPE)
    imp = subprocess.run([docker_bin(), "import", "-", tag], stdin=tar.stdout,  # noqa: S603
                         capture_output=True, text=True)
    assert tar.stdout is not None
    tar.stdout.close()
    tar.wait()
    if imp.returncode != 0:
        _engine_error(imp.stderr)
        raise OcaError(f"docker import failed: {imp.stderr.strip()[-500:]}")


# --- building images ----------------------------------------------------------------------

def docker_build(context: Path, tag: str, build_args: dict[str, str] | None = None,
                 labels: dict[str, str] | None = None, progress: Progress = _noop,
                 what: str | None = None) -> str:
    """Build `context` as `tag` with the classic builder; a failure shows the last lines."""
    # --force-rm: a failed step leaves no intermediate container behind.
    cmd = [docker_bin(), "build", "-t", tag, "--pull=false", "--force-rm"]
    for k, v in (build_args or {}).items():
        cmd += ["--build-arg", f"{k}={v}"]
    for k, v in (labels or {}).items():
        cmd += ["--label", f"{k}={v}"]
    cmd.append(str(context))
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    tail: deque[str] = deque(maxlen=25)
    what = what or tag
    progress(description=f"building {what}", total=1, completed=0)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                            text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        if not line or line.startswith("DEPRECATED") or "legacy builder" in line:
            continue
        tail.append(line)
        m = STEP_RE.match(line)
        if m:
            progress(description=f"building {what}: step {m.group(1)}/{m.group(2)}",
                     total=int(m.group(2)), completed=int(m.group(1)) - 1)
    if proc.wait() != 0:
        text = "\n".join(tail)
        _engine_error(text)
        raise OcaError(f"building {what} failed; last lines:\n{text}",
                       hint=f"fix {context / 'Dockerfile'} and retry (details with -v)")
    progress(completed=1, total=1)
    return tag


def _hash_tree(h: Any, root: Path, skip: Iterable[str] = ()) -> None:
    skip = set(skip)
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in skip or part.endswith(".pyc") for part in rel.parts) or not path.is_file():
            continue
        h.update(str(rel).encode() + b"\0" + path.read_bytes() + b"\0")


def recipe_hash(folder: Path, raw: dict[str, Any]) -> str:
    h = hashlib.sha256()
    _hash_tree(h, folder, GENERATED | set(raw.get("generated", [])))
    if raw.get("copy_oca"):
        _hash_tree(h, config.PACKAGE_DIR, {"_share", "__pycache__"})
    return h.hexdigest()[:16]


def recipe_raw(folder: Path) -> dict[str, Any]:
    try:
        return json.loads((folder / "recipe.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BadInput(f"{folder / 'recipe.json'}: {e}") from e


def recipe_tag(recipe: Any) -> str:
    return recipe.image or f"oca/{recipe.name}:{recipe.app_version}"


def fill_wheelhouse(context: Path, requirements: list[str]) -> None:
    """`pip download` on the host into `<context>/wheelhouse` (skipped when already done)."""
    wh = context / "wheelhouse"
    stamp = wh / ".requirements"
    want = "\n".join(requirements)
    if stamp.is_file() and stamp.read_text() == want:
        return
    wh.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-q",
           "--only-binary=:all:", "--python-version", "3.11",
           # pip matches --platform tags exactly: list the glibc levels bookworm (2.36) runs
           *(a for t in ("2_36", "2_34", "2_31", "2_28", "2_27", "2_24")
             for a in ("--platform", f"manylinux_{t}_x86_64")),
           "--platform", "manylinux2014_x86_64",
           "-d", str(wh)]
    local = os.environ.get("OCA_WHEEL_DIR")
    if local:
        cmd += ["--find-links", local]
    p = subprocess.run([*cmd, *requirements], capture_output=True, text=True)  # noqa: S603
    if p.returncode != 0:
        raise Unavailable(f"downloading wheels for {', '.join(requirements)} failed: "
                          f"{p.stderr.strip()[-500:]}",
                          hint="the host needs PyPI (or set OCA_WHEEL_DIR to a wheel folder)")
    stamp.write_text(want)


def copy_oca(context: Path) -> None:
    """The `oca` package into `<context>/_oca/oca` (`COPY _oca /app` in the Dockerfile)."""
    dest = context / "_oca" / "oca"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(config.PACKAGE_DIR, dest,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_share"))


def run_prebuild(spec: str, context: Path) -> None:
    module, _, func = spec.partition(":")
    if not module or not func:
        raise BadInput(f"invalid prebuild {spec!r}: expected 'module:function'")
    getattr(importlib.import_module(module), func)(context)


def build_recipe(recipe: Any, progress: Progress = _noop, force: bool = False) -> str:
    """Build (if needed) the image of a recipe; returns its tag.

    Conventions from `recipe.json`: `wheels` (downloaded on the host into `wheelhouse/`),
    `copy_oca` (the oca package into `_oca/oca`), `prebuild` ("module:function" called with
    the context path, e.g. to export a model). The image is rebuilt only when its inputs
    changed (label `oca.recipe.hash`).
    """
    folder = recipe.folder
    raw = recipe_raw(folder)
    tag = recipe_tag(recipe)
    digest = recipe_hash(folder, raw)
    labels = image_labels(tag)
    if not force and labels is not None and labels.get("oca.recipe.hash") == digest:
        return tag
    context = folder
    if not os.access(folder, os.W_OK) and (raw.get("wheels") or raw.get("copy_oca")
                                           or raw.get("prebuild")):
        # An installed (read-only) recipe: build from a copy under $OCA_HOME.
        context = config.home() / "build" / recipe.name
        shutil.rmtree(context, ignore_errors=True)
        shutil.copytree(folder, context)
    if raw.get("prebuild"):
        progress(description=f"{recipe.name}: prebuild")
        run_prebuild(raw["prebuild"], context)
    if raw.get("wheels"):
        progress(description=f"{recipe.name}: wheels")
        fill_wheelhouse(context, list(raw["wheels"]))
    if raw.get("copy_oca"):
        copy_oca(context)
    docker_build(context, tag, {"BASE_IMAGE": base_image()},
                 {"oca.recipe": recipe.name, "oca.recipe.hash": digest},
                 progress=progress, what=recipe.name)
    return tag


def remove_image(tag: str) -> None:
    subprocess.run([docker_bin(), "image", "rm", "-f", tag], capture_output=True)  # noqa: S603


def list_images() -> list[dict[str, str]]:
    """Images oca built or uses: recipe images, driver images and the base images."""
    def ls(*args: str) -> list[dict[str, Any]]:
        p = subprocess.run([docker_bin(), "image", "ls", "--format", "{{json .}}",  # noqa: S603
                            *args], capture_output=True, text=True)
        if p.returncode != 0:
            _engine_error(p.stderr)
            raise OcaError(f"docker image ls failed: {p.stderr.strip()[-300:]}")
        return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]

    out: list[dict[str, str]] = []
    for kind, args in (("recipe", ["--filter", "label=oca.recipe"]),
                       ("driver", ["--filter", "label=oca.driver"]),
                       ("base", [OCA_BASE]), ("base", [DEFAULT_BASE])):
        out += [{"image": f"{r['Repository']}:{r['Tag']}", "kind": kind, "id": r["ID"],
                 "size": r["Size"], "created": r.get("CreatedSince", "")} for r in ls(*args)]
    return out
