"""The ai scope against the container backend: recipe `ai` on the real docker runtime
(the image is built once, torch-free, with the model exported on the host)."""

from __future__ import annotations

import subprocess

import pytest

from tests.ai.conftest import CAT_CLASSES, IMAGES


@pytest.mark.docker
@pytest.mark.slow
def test_container_backend_classifies_real_photos(oca, docker_engine, ai_model, suffix,  # noqa: ANN001
                                                  tmp_path) -> None:
    name = f"ai-c-{suffix}"
    r = oca("service", "add", name, "--recipe", "ai", "--runtime", "docker", "--json",
            timeout=1200)
    assert r.code == 0, r.err
    svc = r.json()
    try:
        assert (svc["runtime"], svc["driver"]) == ("docker", "oca-ai-driver-0.1.0")
        r = oca("ai", "classify", str(IMAGES / "cat.jpg"), str(IMAGES / "coffee.jpg"),
                "--service", name, "--json")
        assert r.code == 0, r.err
        out = {line["file"]: line for line in r.jsonl()}
        cat = [x["label"] for x in out[str(IMAGES / "cat.jpg")]["labels"]]
        assert len(cat) == 5 and CAT_CLASSES & set(cat), cat
        coffee = [x["label"] for x in out[str(IMAGES / "coffee.jpg")]["labels"]]
        assert {"espresso", "cup", "coffee_mug"} & set(coffee), coffee

        text = tmp_path / "notes.txt"
        text.write_text("not an image")
        r = oca("ai", "classify", str(text), "--service", name)
        assert r.code == 6 and r.err.startswith("error: not an image"), r.err
        assert oca("service", "ping", name, "--json").json() == {"status": "ok"}

        usage = oca("ai", "usage", "--service", name, "--json").json()
        assert usage["info"].startswith("oca model server") and usage["stats"]["images"] == 2
        # the runtime image serves with ONNX Runtime only
        image = svc.get("image") or "oca/ai:0.1.0"
        p = subprocess.run(["docker", "run", "--rm", "--entrypoint", "python", image, "-c",
                            "import importlib.util as u; print(u.find_spec('torch'))"],
                           capture_output=True, text=True, timeout=120)
        assert p.stdout.strip() == "None", p.stderr
    finally:
        r = oca("service", "rm", name, "--purge")
        assert r.code == 0, r.err
