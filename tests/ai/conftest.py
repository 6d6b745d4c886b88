"""Fixtures of the ai tests: the exported default model, one shared model server, images.

The model is exported once per machine into the shared cache (`$OCA_MODEL_CACHE`, default
`~/.cache/oca/models`), never per test. `model_server` is a real server process
(`python -m oca.backends.ai_server`) shared by a module; tests reach it through a service
registered as `external` in their own `$OCA_HOME`.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "examples" / "images"
CAT_CLASSES = {"tabby", "tiger_cat", "Persian_cat", "Siamese_cat", "Egyptian_cat"}


@pytest.fixture(scope="session")
def ai_model() -> Path:
    from oca import ai_model

    if not ai_model.is_exported() and not ai_model.export_available():
        msg = ("the default model is not exported and torch is missing: "
               "pip install -e '.[ai-export]'")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    return ai_model.ensure_exported()


@pytest.fixture(scope="module")
def model_server(ai_model: Path, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from oca.net import free_port, http_ready, wait_until

    port = free_port()
    data = tmp_path_factory.mktemp("ai-server")
    log = open(data / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "oca.backends.ai_server", "--port", str(port),
         "--data", str(data)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        start_new_session=True)
    try:
        assert wait_until(lambda: http_ready(f"http://127.0.0.1:{port}/ping"), 60,
                          alive=lambda: proc.poll() is None), (data / "server.log").read_text()
        yield {"port": port, "proc": proc, "location": f"127.0.0.1:{port}"}
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()


@pytest.fixture
def ai_ext(oca, model_server) -> str:  # noqa: ANN001
    """An `external` ai service pointing at the shared server, registered in this test's home."""
    r = oca("service", "add", "ai-ext", "--scope", "ai", "--app", "oca-model-server",
            "--app-version", "0.1.0", "-l", model_server["location"], "--runtime", "external")
    assert r.code == 0, r.err
    return "ai-ext"


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression bomb's shape); the pixel
    data holds a few rows only, so nothing large is ever allocated here."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * (1 + 3 * width) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


@pytest.fixture
def many_images(tmp_path: Path) -> list[Path]:
    """48 real photos (copies of the three samples) for concurrency tests."""
    out = []
    for i in range(16):
        for src in ("cat.jpg", "coffee.jpg", "rocket.jpg"):
            dest = tmp_path / f"{i:02d}-{src}"
            shutil.copy(IMAGES / src, dest)
            out.append(dest)
    return out


@pytest.fixture(autouse=True)
def _no_leftover_servers(oca_home: Path):  # noqa: ANN202
    """Whatever a test leaves registered in its home (even when it fails) is removed: local
    server processes and containers must not outlive the test."""
    yield
    if not (oca_home / "registry.json").exists():
        return
    from oca import services
    from oca.errors import OcaError

    for svc in services.ls():
        if svc.runtime in ("local", "docker"):
            try:
                services.remove(svc.id, purge=True)
            except OcaError:
                pass
