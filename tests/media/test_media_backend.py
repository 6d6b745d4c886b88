"""Real pipelines on a real ffmpeg backend, through the scope functions and the driver."""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from media_helpers import Backend, children_ffmpeg, ffprobe

from oca.errors import BadInput, NotFound
from oca.scopes import media


def upload(svc, clip: Path) -> str:  # noqa: ANN001
    return media.stage(svc, str(clip))


def streams(info: dict) -> dict[str, dict]:
    return {s["codec_type"]: s for s in info["streams"]}


def post(backend: Backend, path: str, body: object) -> tuple[int, dict]:
    req = urllib.request.Request(backend.url + path, data=json.dumps(body).encode(),
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_two_outputs_from_one_pipeline(media_service, clips, tmp_path) -> None:
    res = media.transcode(str(clips["av"]), {"outputs": [
        {"container": "mkv", "channels": [
            {"stream_type": "video", "codec": "libx264", "codec_params": {"preset": "ultrafast"}},
            {"stream_type": "audio", "codec": "copy"}]},
        {"container": "mp3", "params": {"vn": None},
         "channels": [{"stream_type": "audio", "codec": "libmp3lame"}]},
    ]}, output_dir=str(tmp_path), service="ffm")
    paths = [Path(o["path"]) for o in res["outputs"]]
    assert [p.name for p in paths] == ["av.mkv", "av.mp3"]
    mkv, mp3 = ffprobe(paths[0]), ffprobe(paths[1])
    assert streams(mkv)["video"]["codec_name"] == "h264"
    assert streams(mkv)["audio"]["codec_name"] == "aac"
    assert list(streams(mp3)) == ["audio"] and streams(mp3)["audio"]["codec_name"] == "mp3"
    assert abs(float(mp3["format"]["duration"]) - 3.0) < 0.2
    st = media.status(res["id"], "ffm")
    assert [s["status"] for s in st] == ["finished", "finished"]
    assert all(s["progress"] == 100.0 and s["command_retcode"] == 0 for s in st)
    assert res["id"] in [p["id"] for p in media.ls("ffm")]


def test_cut_with_a_filter_chain(media_service, clips, tmp_path) -> None:
    spec = media.shorthand("mp4", "libx264", "aac", scale="0.5", preset="ultrafast",
                           start="1", duration="1.5")
    spec["outputs"][0]["channels"][0]["filters"]["hue"] = {"s": 0}
    res = media.transcode(str(clips["av"]), spec, output_dir=str(tmp_path), service="ffm")
    info = ffprobe(res["outputs"][0]["path"])
    v = streams(info)["video"]
    assert (v["width"], v["height"]) == (160, 120)
    assert abs(float(info["format"]["duration"]) - 1.5) < 0.15
    cmd = media.status(res["id"], "ffm")[0]["command"]
    assert "-ss 1 -t 1.5" in cmd and "hue=s=0" in cmd


def test_stop_leaves_no_ffmpeg(media_service, backend, clips) -> None:
    src = upload(media_service, clips["av"])
    created = media.create_pipeline({
        "input_file": {"source": src, "params": {"re": None, "stream_loop": -1}},
        "outputs": [{"container": "mkv"}, {"container": "wav", "params": {"vn": None}}],
    }, "ffm")
    st = media.status(created["id"], "ffm", wait=1.0)
    pids = [s["pid"] for s in st]
    assert [s["status"] for s in st] == ["running", "running"]
    assert set(pids) <= set(children_ffmpeg(backend.proc.pid))
    t0 = time.monotonic()
    stopped = media.stop(created["id"], "ffm")
    assert time.monotonic() - t0 < 8
    assert [s["status"] for s in stopped] == ["stopped", "stopped"]
    assert all(not Path(f"/proc/{pid}").exists() for pid in pids)  # exited and reaped
    assert not set(pids) & set(children_ffmpeg(backend.proc.pid))
    assert media.stop(created["id"], "ffm")[0]["status"] == "stopped"  # stopping twice is fine


def test_udp_mpegts_stream_reaches_a_listener(media_service, clips) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    port = sock.getsockname()[1]
    src = upload(media_service, clips["av"])
    created = media.create_pipeline({
        "input_file": {"source": src, "params": {"re": None}},
        "outputs": [{"container": "mpegts", "udp_ip": "127.0.0.1", "udp_port": port,
                     "channels": [{"stream_type": "video", "codec": "libx264",
                                   "codec_params": {"preset": "ultrafast"}}]}],
    }, "ffm")
    assert created["outputs"] == [f"udp://127.0.0.1:{port}"]
    try:
        received = b""
        while len(received) < 50 * 188:
            data, _ = sock.recvfrom(65536)
            assert len(data) % 188 == 0 and data[0] == 0x47  # MPEG-TS packets
            received += data
    finally:
        media.stop(created["id"], "ffm")
        sock.close()
    pids = {data[i + 1] & 0x1F << 8 | data[i + 2] for i in range(0, len(data), 188)}
    assert pids  # parsed transport packets


def test_ttl_zero_cleans_up(media_service, backend, clips) -> None:
    src = upload(media_service, clips["av"])
    created = media.create_pipeline({"input_file": {"source": src}, "ttl": 0,
                                     "outputs": [{"container": "wav", "params": {"vn": None}}]},
                                    "ffm")
    folder = backend.data / "pipelines" / created["id"]
    assert folder.is_dir()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            media.status(created["id"], "ffm", wait=0.5)
        except NotFound:
            break
    else:
        pytest.fail("pipeline with ttl 0 was not cleaned up")
    assert not folder.exists()
    assert not (backend.data / "uploads" / src.split("/")[0]).exists()


BAD_PIPELINES = [
    ({"outputs": [{"container": "mp4", "channels": [
        {"stream_type": "video", "codec": "nosuchcodec"}]}]}, "unknown encoder"),
    ({"outputs": [{"container": "mp4", "params": {"i": "/etc/passwd"}}]}, "not allowed"),
    ({"outputs": [{"container": "mp4", "params": {"-y /etc/passwd": None}}]}, "invalid output"),
    ({"outputs": [{"container": "mp4", "channels": [
        {"stream_type": "video", "filters": {"movie": {"filename": "/etc/passwd"}}}]}]},
     "not allowed"),
    ({"outputs": [{"container": "wrong"}]}, "unsupported container"),
    ({"outputs": []}, "No outputs"),
]


@pytest.mark.parametrize("pipeline,message", BAD_PIPELINES)
def test_bad_pipelines_start_nothing(media_service, backend, clips, pipeline, message) -> None:
    src = upload(media_service, clips["av"])
    before = len(media.ls("ffm"))
    with pytest.raises(BadInput, match=message):
        media.create_pipeline({"input_file": {"source": src}, **pipeline}, "ffm")
    assert len(media.ls("ffm")) == before
    assert children_ffmpeg(backend.proc.pid) == []


@pytest.mark.parametrize("source", ["file:///etc/passwd", "/etc/passwd", "../../etc/passwd",
                                    "concat:/etc/passwd"])
def test_sources_outside_the_roots_are_refused(backend, source) -> None:
    code, body = post(backend, "/pipeline", {"input_file": {"source": source},
                                             "outputs": [{"container": "mp4"}]})
    assert code == 400 and body["status"] == "error"
    assert body["error"]["type"] == "invalid_input"
    code, body = post(backend, "/probe", {"source": source})
    assert code == 400


def test_non_media_file_is_a_clean_error(media_service, clips) -> None:
    src = upload(media_service, clips["text"])
    t0 = time.monotonic()
    with pytest.raises(BadInput, match="as media: its format .tty. is not an accepted"):
        media.probe(src, service="ffm")
    with pytest.raises(BadInput, match="as media"):
        media.create_pipeline({"input_file": {"source": src},
                               "outputs": [{"container": "mp4"}]}, "ffm")
    assert time.monotonic() - t0 < 5


def test_malformed_json_shapes(backend) -> None:
    code, body = post(backend, "/pipeline", {"input_file": {"source": "x"}})
    assert code == 400 and "outputs" in body["description"]
    code, body = post(backend, "/probe", {"params": {}})
    assert code == 400 and "source" in body["description"]


def test_unknown_pipeline_is_not_found(media_service, backend) -> None:
    with pytest.raises(NotFound):
        media.status("nosuchpipe", "ffm")
    with pytest.raises(NotFound):
        media.stop("nosuchpipe", "ffm")
    try:
        urllib.request.urlopen(backend.url + "/pipeline/nosuchpipe", timeout=10)
    except urllib.error.HTTPError as e:
        assert e.code == 404
    else:
        pytest.fail("expected 404")


def test_probe_gives_ffprobe_json(media_service, clips) -> None:
    info = media.probe(str(clips["av"]), service="ffm", local_files=True)
    assert set(streams(info)) == {"video", "audio"}
    assert info["format"]["format_name"].startswith("mov")
    assert os.path.basename(str(clips["av"])) in info["format"]["filename"]


def test_ffmpeg_driver_passes_the_media_contract_suite(oca, backend) -> None:
    r = oca("driver", "test", "ffmpeg", "--location", f"127.0.0.1:{backend.port}")
    assert r.code == 0, r.out + r.err
    assert "9 contract checks passed" in r.out + r.err


def listening(port: int) -> bool:
    """Whether a TCP socket listens on `port` (state 0A in /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if int(local.split(":")[1], 16) == port and state == "0A":
            return True
    return False


def test_rtmp_push_reaches_an_rtmp_listener(media_service, clips, tmp_path) -> None:
    """ffmpeg's own RTMP listener (`-listen 1`) stands in for an nginx-rtmp server."""
    import subprocess

    from oca.net import free_port

    port = free_port()
    received = tmp_path / "received.flv"
    listener = subprocess.Popen(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-listen", "1", "-timeout",
         "20", "-i", f"rtmp://127.0.0.1:{port}/live/s", "-c", "copy", str(received)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from oca.net import wait_until

        # a test connection would be taken as the RTMP client: look for LISTEN instead
        assert wait_until(lambda: listening(port), 10)
        src = upload(media_service, clips["av"])
        created = media.create_pipeline({
            "input_file": {"source": src},
            "outputs": [{"container": "flv", "rtmp_ip": f"127.0.0.1:{port}",
                         "rtmp_path": "live/s", "channels": [
                             {"stream_type": "video", "codec": "libx264",
                              "codec_params": {"preset": "ultrafast"}},
                             {"stream_type": "audio", "codec": "aac"}]}]}, "ffm")
        assert created["outputs"] == [f"rtmp://127.0.0.1:{port}/live/s"]
        st = media.wait_done(media.resolve("ffm"), created["id"], timeout=30)
        assert st[0]["status"] == "finished", "".join(st[0]["command_output"])
        listener.wait(15)
    finally:
        listener.kill()
        listener.wait()
    kinds = {s["codec_type"]: s["codec_name"] for s in ffprobe(received)["streams"]}
    assert kinds == {"video": "h264", "audio": "aac"}


def test_probe_cache_follows_file_changes(media_service, backend, clips) -> None:
    folder = backend.data / "uploads" / "cachetest"
    folder.mkdir(exist_ok=True)
    target = folder / "clip.mp4"
    target.write_bytes(clips["av"].read_bytes())
    assert media.probe("cachetest/clip.mp4", service="ffm")["streams"]
    assert media.probe("cachetest/clip.mp4", service="ffm")["streams"]  # served from cache
    target.write_bytes(clips["text"].read_bytes())  # new size and mtime: probed again
    with pytest.raises(BadInput, match="as media"):
        media.probe("cachetest/clip.mp4", service="ffm")


def test_http_source_is_passed_through(media_service, clips, tmp_path) -> None:
    import functools
    import subprocess
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    # python's http.server ignores Range requests: serve a clip with its index up front
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(clips["av"]),
                    "-c", "copy", "-movflags", "+faststart", str(tmp_path / "av.mp4")],
                   check=True, timeout=60)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/av.mp4"
    try:
        out_dir = tmp_path / "out"
        out_dir.mkdir()
        res = media.transcode(url, media.shorthand("mkv", "copy", "copy"),
                              output_dir=str(out_dir), service="ffm")
    finally:
        server.shutdown()
    out = Path(res["outputs"][0]["path"])
    assert out.name == "av.mkv"
    assert {s["codec_name"] for s in ffprobe(out)["streams"]} == {"h264", "aac"}
    assert url in media.status(res["id"], "ffm")[0]["command"]


def test_an_output_with_nothing_in_it_is_an_error(media_service, clips, tmp_path) -> None:
    spec = {"input_file": {"source": "", "params": {"ss": 60}},  # past the end of the clip
            "outputs": [{"container": "mkv"}]}
    with pytest.raises(BadInput, match="exit"):
        media.transcode(str(clips["av"]), spec, output_dir=str(tmp_path), service="ffm")


def test_a_silent_source_times_out_instead_of_hanging(tmp_path) -> None:
    """An http source that accepts and never answers: ffprobe is cut off at --probe-timeout."""
    import subprocess
    import sys

    from oca.net import free_port, http_ready, wait_until

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "oca.backends.media_server", "--port",
                             str(port), "--data", str(tmp_path), "--probe-timeout", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        assert wait_until(lambda: http_ready(url + "/ping"), 20)
        req = urllib.request.Request(url + "/probe", method="POST", data=json.dumps(
            {"source": f"http://127.0.0.1:{silent.getsockname()[1]}/never.mp4"}).encode())
        t0 = time.monotonic()
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=30)
        assert e.value.code == 504
        assert json.loads(e.value.read())["error"]["type"] == "timeout"
        assert time.monotonic() - t0 < 10
    finally:
        proc.terminate()
        proc.wait(10)
        silent.close()
