"""The ai scope over `oca serve` (upstream's REST shapes) against the real model server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.ai.conftest import CAT_CLASSES, IMAGES, ROOT


def test_upstream_predict_serve_usage_over_http(oca, oca_home, ai_ext) -> None:  # noqa: ANN001
    import httpx

    from oca.net import free_port, http_ready, wait_until

    sid = oca("service", "show", ai_ext, "--json").json()["id"]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "oca", "serve", "--port", str(port)],  # noqa: S603
                            cwd=ROOT, env={**os.environ, "OCA_HOME": str(oca_home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_until(lambda: http_ready(base + "/"), 60, alive=lambda: proc.poll() is None)
        with httpx.Client(base_url=base, timeout=60) as c:
            files = {"image_file": ("cat.jpg", (IMAGES / "cat.jpg").read_bytes(), "image/jpeg")}
            r = c.post(f"/ai/{sid}/predict", params={"sync": "true"}, files=files)
            assert r.status_code == 200, r.text
            (res,) = r.json()["results"]
            assert res["status"] == "ok" and res["result"] in CAT_CLASSES
            assert len(res["labels"]) == 5

            r = c.post(f"/ai/{sid}/serve", params={"sync": "true"},
                       json={"name": "efficientnet-lite0"})
            assert r.status_code == 200 and r.json()["result"] == "model efficientnet-lite0 loaded"

            bad = {"image_file": ("notes.txt", b"not an image", "text/plain")}
            r = c.post(f"/ai/{sid}/predict", params={"sync": "true"}, files=bad)
            assert r.status_code in (400, 422), r.text
            assert "not an image" in r.text

            r = c.get(f"/ai/{sid}/usage", params={"sync": "true"})
            assert r.status_code == 200 and r.json()["info"].startswith("oca model server")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
