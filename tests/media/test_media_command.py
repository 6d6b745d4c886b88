"""ffmpeg argument mapping (upstream's pinned commands) and the safety checks, no pipeline run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from oca.backends.media_server import safety
from oca.backends.media_server.command import Streams, filter_node, layout
from oca.contract.media import Output
from oca.errors import BadInput

V1 = Streams(video=True, audio=False)
V2 = Streams(video=True, audio=True)


def cmd(src: str, out: dict, streams: Streams, target: str = "OUT", params: dict | None = None,
        forced: str | None = None) -> str:
    return "ffmpeg " + " ".join(layout(src, params, Output(**out), streams, target, forced))


def vid(codec: str | None = None, **kw: object) -> dict:
    ch: dict = {"stream_type": "video", **kw}
    if codec:
        ch["codec"] = codec
    return ch


# The commands upstream's tests pin (reference §7.4), with oca's fixed flags left out.
UPSTREAM = [
    ({"container": "mp4", "channels": [vid("libx264", codec_params={
        "preset": "ultrafast", "tune": "film", "crf": "30"})]}, V1, None, None,
     "ffmpeg -i V -map 0:v -crf 30 -preset ultrafast -tune film -vcodec libx264 OUT"),
    ({"container": "mp4"}, V2, None, None, "ffmpeg -i V -map 0:v -map 0:a OUT"),
    ({"container": "mp4", "channels": [vid("copy"), {"stream_type": "audio", "codec": "copy"}]},
     V2, None, None, "ffmpeg -i V -map 0:v -map 0:a -acodec copy -vcodec copy OUT"),
    ({"container": "mkv", "params": {"metadata": "stereo_mode=left_right",
                                     "default_mode": "infer_no_subs"}}, V1, None, None,
     "ffmpeg -i V -map 0:v -default_mode infer_no_subs -metadata stereo_mode=left_right OUT"),
    ({"container": "mp4", "params": {"movflags": "isml+frag_keyframe"}}, V1, None, None,
     "ffmpeg -i V -map 0:v -movflags isml+frag_keyframe OUT"),
    ({"container": "mp4", "channels": [
        {"stream_type": "audio", "codec": "aac",
         "codec_params": {"ab": 192000, "profile": "aac_ltp", "strict": "-2"}},
        vid(params={"vn": None})]}, V2, None, None,
     "ffmpeg -i V -map 0:v -map 0:a -ab 192000 -acodec aac -profile:a aac_ltp -strict -2 -vn OUT"),
    ({"container": "mp4", "params": {"vaapi_device": "/dev/dri/renderD128"},
      "channels": [vid("h264_vaapi", params={"vf": "format=nv12,hwupload"})]}, V2, None, None,
     "ffmpeg -i V -map 0:v -map 0:a -vaapi_device /dev/dri/renderD128 -vcodec h264_vaapi "
     "-vf format=nv12,hwupload OUT"),
    ({"container": "mp4", "channels": [
        vid(filters={"scale": {"w": "iw/2", "h": -1}, "deflicker": {"mode": "pm", "size": 10},
                     "reverse": {}, "hue": {"s": 0}}),
        {"stream_type": "audio", "filters": {
            "atrim": {"start": 1}, "asetpts": "PTS-STARTPTS", "volume": {"volume": 0.8},
            "areverse": {}, "aphaser": {}}}]}, V2, None, None,
     "ffmpeg -i V -filter_complex [0:v]scale=h=-1:w=iw/2[s0];[s0]deflicker=mode=pm:size=10[s1];"
     "[s1]reverse[s2];[s2]hue=s=0[s3];[0:a]atrim=start=1[s4];[s4]asetpts=PTS-STARTPTS[s5];"
     "[s5]volume=volume=0.8[s6];[s6]areverse[s7];[s7]aphaser[s8] -map [s3] -map [s8] OUT"),
    ({"container": "mpegts", "channels": [vid("libx264", codec_params={
        "preset": "fast", "crf": "30"})]}, V1, {"re": None}, "mpegts",
     "ffmpeg -re -i V -map 0:v -f mpegts -crf 30 -preset fast -vcodec libx264 OUT"),
    ({"container": "flv", "rtmp_ip": "10.0.0.1", "rtmp_path": "live", "channels": [
        vid("libx264", codec_params={"preset": "fast", "crf": "30"})]}, V1, {"re": None}, "flv",
     "ffmpeg -re -i V -map 0:v -f flv -crf 30 -preset fast -vcodec libx264 OUT"),
    ({"container": "mkv", "channels": [vid("libx264", codec_params={"preset": "fast", "crf": "23"},
                                           filters={"scale": {"w": "iw/2", "h": -1},
                                                    "hue": {"s": 0}})]},
     V2, {"ss": 15, "t": 10}, None,
     "ffmpeg -ss 15 -t 10 -i V -filter_complex [0:v]scale=h=-1:w=iw/2[s0];[s0]hue=s=0[s1] "
     "-map [s1] -map 0:a -crf 23 -preset fast -vcodec libx264 OUT"),
]


@pytest.mark.parametrize("out,streams,params,forced,expected", UPSTREAM)
def test_upstream_command_layout(out, streams, params, forced, expected) -> None:
    assert cmd("V", out, streams, params=params, forced=forced) == expected


def test_cover_art_is_not_mapped_as_video() -> None:
    probe = {"streams": [{"codec_type": "audio"},
                         {"codec_type": "video", "disposition": {"attached_pic": 1}}]}
    s = Streams.from_probe(probe)
    assert (s.video, s.audio) == (False, True)


def test_filter_values_cannot_add_filters() -> None:
    """A value full of graph syntax stays one option of one filter (checked by ffmpeg itself)."""
    node = filter_node("scale", {"w": "32,movie=/etc/passwd[x];[x]null", "h": 32})
    p = subprocess.run(["ffmpeg", "-hide_banner", "-f", "lavfi", "-i", "color=s=32x32:d=0.1",
                        "-filter_complex", f"[0:v]{node}[s0]", "-map", "[s0]", "-f", "null",
                        "-"], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "Cannot parse expression for width: '32,movie=/etc/passwd[x];[x]null'" in p.stderr
    assert "Parsed_movie" not in p.stderr


@pytest.mark.parametrize("key", ["i", "-y /etc/passwd", "y", "map", "filter_complex",
                                 "passlogfile", "x264-params", "attach", "vstats_file",
                                 "protocol_whitelist", "progress", "fpre", "sdp_file",
                                 "dump_attachment:t", "hls_segment_filename", "listen"])
def test_hostile_option_keys(key: str) -> None:
    with pytest.raises(BadInput):
        safety.check_options({key: "/etc/passwd"}, "output")


@pytest.mark.parametrize("opts", [
    {"c:v": "nosuchcodec"}, {"vcodec": "libx264 -i /etc/passwd"}, {"f": "tee"},
    {"f": "hls"}, {"vf": "movie=/etc/passwd"}, {"vf": "scale=2:2,sendcmd=f=/etc/passwd"},
    {"af": "[0:a]anull[x]"}, {"vf": "drawbox=fontfile=/etc/passwd"},
    {"metadata": "a\nb"}, {"vaapi_device": "/etc/passwd"},
])
def test_bad_option_values(opts: dict) -> None:
    with pytest.raises(BadInput):
        safety.check_options(opts, "output")


def test_good_options_pass() -> None:
    safety.check_options({"crf": "23", "b:v": "1M", "metadata:s:a:0": "language=eng",
                          "vf": "scale=w=iw/2:h=-2,hue=s=0", "c:a": "copy", "movflags":
                          "+faststart", "vn": None, "f": "mp4"}, "output")
    safety.check_options({"ss": 1, "t": "00:00:02", "re": None, "f": "mov"}, "input")


@pytest.mark.parametrize("name", ["movie", "amovie", "sendcmd", "zmq", "ladspa", "frei0r",
                                  "subtitles", "drawtext", "nosuchfilter"])
def test_denied_or_unknown_filters(name: str) -> None:
    with pytest.raises(BadInput):
        safety.check_filter_spec(name, {})


def test_filter_option_keys_naming_files_are_refused() -> None:
    with pytest.raises(BadInput):
        safety.check_filter_spec("deflicker", {"filename": "/etc/passwd"})


def test_sources(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    (uploads / "tok").mkdir(parents=True)
    (uploads / "tok" / "a.mp4").write_bytes(b"x")
    allowed = tmp_path / "media"
    allowed.mkdir()
    (allowed / "b.mp4").write_bytes(b"x")
    (uploads / "tok" / "link.mp4").symlink_to("/etc/passwd")
    os.mkfifo(uploads / "tok" / "fifo.mp4")

    assert safety.check_source("tok/a.mp4", [], uploads).arg.startswith("file:/")
    assert safety.check_source(str(allowed / "b.mp4"), [allowed], uploads).path is not None
    src = safety.check_source("https://example.org/v.mp4", [], uploads)
    assert src.is_url and src.protocol_whitelist == "http,https,tcp,tls"
    for bad in ["file:///etc/passwd", "/etc/passwd", "../../../etc/passwd", "tok/link.mp4",
                "tok/fifo.mp4", "concat:/etc/passwd|x", "subfile:,,start,0,end,0,,:/etc/passwd",
                "pipe:0", "data:text/plain,abc", str(allowed / "b.mp4"), "tok/../../x",
                "tok/missing.mp4", "lavfi:movie=/etc/passwd", "a\nb"]:
        with pytest.raises(BadInput):
            safety.check_source(bad, [], uploads)


def test_stream_hosts() -> None:
    assert safety.check_host("127.0.0.1:1935", "rtmp_ip", port_ok=True)
    for bad in ["127.0.0.1:1935", "a/b", "x?y", "user@host", "-h", ""]:
        with pytest.raises(BadInput):
            safety.check_host(bad, "udp_ip")
    for bad in ["host:99999", "a b:1", "x@y:1"]:
        with pytest.raises(BadInput):
            safety.check_host(bad, "rtmp_ip", port_ok=True)
    for bad in ["../x", "a?b", "a b", "/abs"]:
        with pytest.raises(BadInput):
            safety.check_rtmp_path(bad)


def test_containers() -> None:
    assert safety.check_container("webm") == "webm"
    assert safety.check_container("mpegts") == "mpegts"
    for bad in ["wrong", "m3u8", "../x", "tee", "null"]:
        with pytest.raises(BadInput):
            safety.check_container(bad)
