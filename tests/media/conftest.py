"""Media fixtures: small clips made with ffmpeg's lavfi sources at test time, and a backend.

`backend` is one real ffmpeg backend process for the session (oca.backends.media_server);
`media_service` registers it in each test's fresh OCA_HOME as an external service, so the
scope functions go through the real driver over HTTP (uploads and downloads included).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from media_helpers import Backend, ffmpeg

from oca.net import free_port, http_ready, wait_until


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is not installed")
    d = tmp_path_factory.mktemp("clips")
    av = d / "av.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3",
           "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
           "-shortest", str(av))
    text = d / "notes.txt"
    text.write_text("this is not a video\n" * 50)
    return {"av": av, "text": text, "dir": d}


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory, clips: dict[str, Path]
            ) -> Iterator[Backend]:
    data = tmp_path_factory.mktemp("media-backend")
    port = free_port()
    log = open(data.parent / "media-backend.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "oca.backends.media_server", "--host", "127.0.0.1", "--port",
         str(port), "--data", str(data)], stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: http_ready(url + "/ping"), 20, alive=lambda: proc.poll() is None)
    yield Backend(url, port, data, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.fixture
def media_service(backend: Backend):  # noqa: ANN201
    """The session backend registered as this test's only media service (external)."""
    from oca import services
    from oca.models import ServiceBase

    return services.add(ServiceBase(
        name="ffm", scope="media", app="oca-ffmpeg", app_version="0.1.0",
        locations={"node1": f"127.0.0.1:{backend.port}"}, runtime="external",
    ))
