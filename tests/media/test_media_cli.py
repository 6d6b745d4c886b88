"""`oca media ...` end to end with the embedded default (local ffmpeg backend process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from media_helpers import ffprobe


@pytest.fixture
def cli(oca):  # noqa: ANN001, ANN201
    """The CLI; the embedded default it starts is removed afterwards."""
    yield oca
    oca("service", "rm", "media-default")


def test_mp4_to_webm_at_half_size(cli, clips, tmp_path) -> None:
    out_dir = tmp_path / "new" / "folder"  # created on demand
    r = cli("media", "transcode", str(clips["av"]), "--to", "webm", "--vcodec", "libvpx",
            "--acodec", "libvorbis", "--scale", "0.5", "--output-dir", str(out_dir))
    assert r.code == 0, r.err
    out = out_dir / "av.webm"
    assert r.out.strip().startswith(str(out))
    info = ffprobe(out)
    kinds = {s["codec_type"]: s for s in info["streams"]}
    assert kinds["video"]["codec_name"] == "vp8"
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (160, 120)
    assert kinds["audio"]["codec_name"] == "vorbis"
    assert "webm" in info["format"]["format_name"]
    assert abs(float(info["format"]["duration"]) - 3.0) < 0.2

    r = cli("service", "ls", "--json")
    svc = next(s for s in r.json() if s["name"] == "media-default")
    assert svc["runtime"] == "local" and svc["scope"] == "media"

    r = cli("--json", "media", "ls")
    assert r.code == 0
    pipes = r.json()
    assert len(pipes) == 1 and pipes[0]["status"] == "finished"
    r = cli("media", "status", pipes[0]["id"], "--json")
    st = r.json()[0]
    assert st["status"] == "finished" and st["progress"] == 100.0
    assert "-vcodec libvpx" in st["command"] and "scale=" in st["command"]


def test_probe_and_no_wait_then_stop(cli, clips, tmp_path) -> None:
    r = cli("media", "probe", str(clips["av"]))
    assert r.code == 0, r.err
    assert "h264" in r.out and "aac" in r.out and "3.0" in r.out
    r = cli("--json", "media", "probe", "-", input=clips["av"].read_bytes())
    assert r.code == 0, r.err
    assert {s["codec_type"] for s in r.json()["streams"]} == {"video", "audio"}

    pipe = tmp_path / "p.json"
    pipe.write_text(json.dumps({"input_file": {"source": "ignored", "params": {
        "re": None, "stream_loop": -1}}, "outputs": [{"container": "mkv"}]}))
    r = cli("media", "transcode", str(clips["av"]), "--pipeline", str(pipe), "--no-wait")
    assert r.code == 0, r.err
    pid = r.out.strip()
    assert len(pid) == 10
    r = cli("--json", "media", "stop", pid)
    assert r.code == 0, r.err
    assert [s["status"] for s in r.json()] == ["stopped"]
    assert not Path(f"/proc/{r.json()[0]['pid']}").exists()

    # the default is revived on the next call, and pipelines survive its restart
    assert cli("service", "stop", "media-default").code == 0
    r = cli("--json", "media", "ls")
    assert r.code == 0, r.err
    assert [(p["id"], p["status"]) for p in r.json()] == [(pid, "stopped")]


def write(tmp_path: Path, data: dict) -> str:
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(data))
    return str(p)


def test_bad_input_exits_6_and_starts_nothing(cli, clips, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cases = [
        ["media", "transcode", "file:///etc/passwd", "-o", str(out)],
        ["media", "transcode", str(clips["av"]), "--vcodec", "nosuchcodec", "-o", str(out)],
        ["media", "transcode", str(clips["av"]), "-o", str(out), "--pipeline",
         write(tmp_path, {"outputs": [{"container": "mp4", "params": {"i": "/etc/passwd"}}]})],
        ["media", "transcode", str(clips["av"]), "-o", str(out), "--pipeline",
         write(tmp_path, {"outputs": [{"container": "mp4",
                                       "params": {"-y /etc/passwd": None}}]})],
        ["media", "transcode", str(clips["text"]), "-o", str(out)],
        ["media", "probe", str(clips["text"])],
        ["media", "probe", "concat:/etc/passwd"],
        ["media", "transcode", str(clips["av"]), "--scale", "huge", "-o", str(out)],
    ]
    for args in cases:
        r = cli(*args, timeout=60)
        assert r.code == 6, (args, r.code, r.err)
        assert "\nerror: " in "\n" + r.err and "Traceback" not in r.err
    assert list(out.iterdir()) == []
    r = cli("--json", "media", "ls")
    assert r.json() == []  # no pipeline was ever created

    r = cli("media", "status", "nosuchpipe")
    assert r.code == 3
    r = cli("media", "transcode", str(clips["av"]), "-o", str(clips["dir"]))
    assert r.code == 4 and ("overwrite the source" in r.err or "exists" in r.err)
