"""The media backend in its container (recipe `media`, docker runtime): uploads and downloads."""

from __future__ import annotations

import json

import pytest
from media_helpers import ffprobe


@pytest.mark.docker
@pytest.mark.slow
def test_media_in_a_container(docker_engine, oca, clips, tmp_path, suffix) -> None:
    name = f"media-{suffix}"
    r = oca("service", "add", name, "--recipe", "media", "--runtime", "docker", timeout=600)
    assert r.code == 0, r.err
    try:
        r = oca("media", "transcode", str(clips["av"]), "--service", name, "--to", "webm",
                "--vcodec", "libvpx", "--acodec", "libvorbis", "--scale", "0.5",
                "--output-dir", str(tmp_path))
        assert r.code == 0, r.err
        info = ffprobe(tmp_path / "av.webm")
        kinds = {s["codec_type"]: s for s in info["streams"]}
        assert (kinds["video"]["codec_name"], kinds["video"]["width"]) == ("vp8", 160)
        assert kinds["audio"]["codec_name"] == "vorbis"

        r = oca("media", "probe", str(clips["text"]), "--service", name)
        assert r.code == 6 and "as media" in r.err

        pipe = tmp_path / "long.json"
        pipe.write_text(json.dumps({"input_file": {"source": "-", "params": {
            "re": None, "stream_loop": -1}}, "outputs": [{"container": "mkv"}]}))
        r = oca("media", "transcode", str(clips["av"]), "--service", name, "-p", str(pipe),
                "--no-wait")
        assert r.code == 0, r.err
        r = oca("--json", "media", "stop", r.out.strip(), "--service", name)
        assert [s["status"] for s in r.json()] == ["stopped"]
        r = oca("--json", "media", "ls", "--service", name)
        assert [p["status"] for p in r.json()] == ["finished", "stopped"]
    finally:
        oca("service", "rm", name, "--purge")
