"""Upstream's demo flow, over curl, against a real `oca serve` and real backends.

List services, heartbeat, load a model, predict an uploaded photo (async → poll /job/{id}
→ finished with a label), probe a media file with sync=true, run a pipeline to its end.
The backends are the embedded defaults (local model server, SQLite, local ffmpeg backend)
that `oca serve --defaults` starts, as upstream started its default backends; the media
file is served over HTTP as upstream's demo did.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.api.conftest import require, wait_until

ROOT = Path(__file__).resolve().parents[2]
CAT = ROOT / "examples" / "images" / "cat.jpg"
CAT_CLASSES = {"tabby", "tiger_cat", "Persian_cat", "Siamese_cat", "Egyptian_cat"}


def curl(*args: str) -> tuple[int, object]:
    """curl as upstream's demo scripts used it (`-d` sends a form type: JSON is still read)."""
    p = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    body, _, code = p.stdout.rpartition("\n")
    return int(code), json.loads(body) if body else None


@pytest.fixture
def media_url(tmp_path: Path):  # noqa: ANN201
    """A 3 s clip with video and audio, served over HTTP on 127.0.0.1."""
    require(shutil.which("ffmpeg") is not None, "ffmpeg is not installed")
    root = tmp_path / "www"
    root.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=25:duration=3", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=3", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                    "-movflags", "+faststart",  # readable without Range requests
                    str(root / "clip.mp4")], check=True, timeout=120)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/clip.mp4"
    httpd.shutdown()


@pytest.fixture
def defaults(oca_home: Path):  # noqa: ANN201
    """Removes (stops) the embedded services `oca serve --defaults` starts, at the end."""
    from oca import ai_model, services

    require(ai_model.is_exported() or ai_model.export_available(),
            "the default model is not exported and torch is missing")
    yield
    for s in services.ls():
        services.remove(s.id, purge=True)


@pytest.mark.slow
def test_upstream_demo_flow(served, defaults, media_url: str, oca,  # noqa: ANN001
                            tmp_path: Path) -> None:
    media_root = tmp_path / "www"
    require(shutil.which("curl") is not None, "curl is not installed")
    base, server = served("--defaults", timeout=180)  # default backends, as upstream started

    code, listed = curl(f"{base}/service/")
    assert code == 200
    ids = {s["name"]: s["id"] for s in listed}
    assert set(ids) == {"ai-default", "db-default", "media-default"}, server.output()
    ai_id, media_id = ids["ai-default"], ids["media-default"]
    for sid in (ai_id, media_id):
        code, beat = curl(f"{base}/service/{sid}/heartbeat")
        assert code == 200, beat

    # load a model (upstream's AIModelMeta shape; oca's offline default model)
    code, loaded = curl("-X", "POST", f"{base}/ai/{ai_id}/serve?sync=true",
                        "-d", json.dumps({"name": "efficientnet-lite0", "path": ""}))
    assert code == 200 and loaded["status"] == "ok", loaded

    # predict an uploaded image: async by default → a ticket → poll the job
    code, ticket = curl("-X", "POST", f"{base}/ai/{ai_id}/predict",
                        "-F", f"image_file=@{CAT}")
    assert code == 200 and set(ticket) == {"id", "status", "queue", "position"}, ticket
    assert ticket["status"] == "queued" and ticket["queue"] == "ai-default"

    def done() -> object:
        code, job = curl(f"{base}/job/{ticket['id']}")
        assert code == 200, job
        return job if job["status"] in ("finished", "failed") else None

    job = wait_until(done, 60, "the predict job")
    assert job["status"] == "finished", job
    first = job["result"]["results"][0]
    assert first["status"] == "ok" and first["result"] in CAT_CLASSES, first

    # the CLI's --async shares the queue: the worker inside `oca serve` runs the job
    r = oca("ai", "classify", str(CAT), "--async", "--json")
    assert r.code == 0, r.err
    job_id = r.jsonl()[0]["job"]["id"]
    r = oca("job", "wait", job_id, "--timeout", "60", "--json")
    assert r.code == 0, r.err
    assert r.json()["results"][0]["result"] in CAT_CLASSES

    # probe a media file, sync=true
    code, probe = curl("-X", "POST", f"{base}/media/{media_id}/probe?sync=true",
                       "-d", json.dumps({"source": media_url}))
    assert code == 200, probe
    kinds = {s["codec_type"] for s in probe["streams"]}
    assert kinds == {"video", "audio"}
    assert abs(float(probe["format"]["duration"]) - 3.0) < 0.2

    # oca's extra: upload a local file, then use the source the backend gives back
    clip = media_url.rsplit("/", 1)[1]
    code, up = curl("-X", "POST", f"{base}/media/{media_id}/upload?sync=true",
                    "-F", f"file=@{media_root / clip}")
    assert code == 200 and up["source"], up
    code, probe2 = curl("-X", "POST", f"{base}/media/{media_id}/probe?sync=true",
                        "-d", json.dumps({"source": up["source"]}))
    assert code == 200 and probe2["format"]["duration"] == probe["format"]["duration"]

    # run a pipeline (upstream's demo shape: cut, scale + hue filters, libx264 in mkv)
    pipeline = {
        "input_file": {"source": media_url, "params": {"ss": 1, "t": 1}},
        "outputs": [{"container": "mkv", "channels": [
            {"stream_type": "video", "codec": "libx264",
             "codec_params": {"preset": "fast", "crf": "23"},
             "filters": {"scale": {"w": "iw/2", "h": -1}, "hue": {"s": 0}}}]}],
        "ttl": 300,
    }
    code, started = curl("-X", "POST", f"{base}/media/{media_id}/pipeline?sync=true",
                         "-d", json.dumps(pipeline))
    assert code == 200 and len(started["outputs"]) == 1, started
    pid = started["id"]

    def pipeline_done() -> object:
        code, outputs = curl(f"{base}/media/{media_id}/pipeline/{pid}?sync=true")
        assert code == 200, outputs
        return outputs if all(o["status"] in ("finished", "error") for o in outputs) else None

    t0 = time.monotonic()
    outputs = wait_until(pipeline_done, 60, "the pipeline")
    assert [o["status"] for o in outputs] == ["finished"], (
        outputs[0]["command"], "".join(outputs[0]["command_output"] or [])[-2000:])
    assert outputs[0]["command_retcode"] == 0 and time.monotonic() - t0 < 60
