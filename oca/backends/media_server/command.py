"""From a checked pipeline output to ffmpeg's argument list, with upstream's layout.

Upstream (ffmpeg-python 0.2.0) gives
`ffmpeg <input options> -i <source> [-filter_complex <graph>] [-map V] [-map A] <output options>
<target>`, options sorted by key after `-f`, `-b:v`, `-b:a`, `-video_size`. oca keeps that
layout and adds fixed flags in front (no banner, no stdin, no overwrite, machine-readable
progress on stdout) and the input fences from `safety` (format/protocol whitelists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oca.backends.media_server import safety
from oca.contract.media import Channel, Output
from oca.errors import BadInput

FIXED = ["-hide_banner", "-nostdin", "-nostats", "-n", "-abort_on", "empty_output", "-progress",
         "pipe:1"]
STREAM_TYPES = {"video": "v", "audio": "a", "subtitle": "s"}
NETWORK_TIMEOUT_US = "15000000"


def escape_chars(text: Any, chars: str) -> str:
    """ffmpeg-python's escaping: a backslash before each of `chars` (backslash first)."""
    text = str(text)
    ordered = sorted(set(chars), key=lambda c: c != "\\")
    for ch in ordered:
        text = text.replace(ch, "\\" + ch)
    return text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def filter_node(name: str, spec: Any) -> str:
    """One filter as graph text: `name=pos1:pos2:k1=v1`, escaped twice as upstream does."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if isinstance(spec, dict):
        kwargs = spec
    elif isinstance(spec, list):
        args = spec
    elif spec is not None:
        args = [spec]
    level1 = "\\'=:"
    out_args = [escape_chars(escape_chars(_text(a), level1), level1) for a in args]
    out_kwargs = {escape_chars(k, level1): escape_chars(_text(v), level1)
                  for k, v in kwargs.items()}
    params = out_args + [f"{k}={out_kwargs[k]}" for k in sorted(out_kwargs)]
    text = escape_chars(name, level1)
    if params:
        text += "=" + ":".join(params)
    return escape_chars(text, "\\'[],;")


def render_options(opts: dict[str, Any], output: bool) -> list[str]:
    opts = dict(opts)
    args: list[str] = []
    for key in ("f", "format"):
        if key in opts:
            args += ["-f", _text(opts.pop(key))]
    if output:
        for key, flag in (("video_bitrate", "-b:v"), ("audio_bitrate", "-b:a")):
            if key in opts:
                args += [flag, _text(opts.pop(key))]
    if "video_size" in opts:
        args += ["-video_size", _text(opts.pop("video_size"))]
    for key in sorted(opts):
        args.append(f"-{key}")
        if opts[key] is not None:
            args.append(_text(opts[key]))
    return args


@dataclass
class Streams:
    """What the probe found: whether to map video/audio, and how to name them."""

    video: bool
    audio: bool
    video_ref: str = "0:v"

    @classmethod
    def from_probe(cls, probe: dict[str, Any]) -> Streams:
        streams = probe.get("streams") or []
        videos = [s for s in streams if s.get("codec_type") == "video"]
        real = [s for s in videos if not (s.get("disposition") or {}).get("attached_pic")]
        audio = any(s.get("codec_type") == "audio" for s in streams)
        # `0:V` skips cover art, which would otherwise break most video outputs.
        ref = "0:V" if len(real) != len(videos) else "0:v"
        return cls(video=bool(real), audio=audio, video_ref=ref)


def check_channel(ch: Channel) -> None:
    if ch.stream_type not in STREAM_TYPES:
        raise BadInput(f"unknown stream_type {ch.stream_type!r}",
                       hint="use video, audio or subtitle")
    if ch.codec:
        safety.check_codec(ch.codec, "encoders", f"{ch.stream_type} codec")
    safety.check_options(ch.params, "output")
    safety.check_options(ch.codec_params, "output")
    if ch.filters:
        if ch.stream_type == "subtitle":
            raise BadInput("subtitle channels take no filters")
        for name, spec in ch.filters.items():
            safety.check_filter_spec(name, spec)


def output_options(out: Output, forced_format: str | None) -> tuple[dict[str, Any], list, list]:
    """Merged output options, and the video/audio filter lists, per upstream's channel rules."""
    opts: dict[str, Any] = dict(out.params or {})
    if forced_format:
        opts["f"] = forced_format
    vfilters: list[tuple[str, Any]] = []
    afilters: list[tuple[str, Any]] = []
    for ch in out.channels or []:
        kind = STREAM_TYPES[ch.stream_type]
        if ch.codec:
            opts[f"{kind}codec"] = ch.codec
        opts.update(ch.params or {})
        cp = dict(ch.codec_params or {})
        profile = cp.pop("profile", None)
        opts.update(cp)
        if profile is not None and kind in ("v", "a"):
            opts[f"profile:{kind}"] = profile
        if kind == "v":
            vfilters += list((ch.filters or {}).items())
        elif kind == "a":
            afilters += list((ch.filters or {}).items())
    return opts, vfilters, afilters


def layout(source_arg: str, input_params: dict[str, Any] | None, out: Output,
           streams: Streams, target: str, forced_format: str | None) -> list[str]:
    """Upstream's argument layout (without `ffmpeg`, oca's fixed flags and input fences)."""
    args = render_options(input_params or {}, output=False) + ["-i", source_arg]
    opts, vfilters, afilters = output_options(out, forced_format)
    graph: list[str] = []
    label = 0
    vref, aref = streams.video_ref, "0:a"
    for chain, ref, present in ((vfilters, vref, streams.video), (afilters, aref, streams.audio)):
        if not chain or not present:
            continue
        prev = f"[{ref}]"
        for name, spec in chain:
            graph.append(f"{prev}{filter_node(name, spec)}[s{label}]")
            prev = f"[s{label}]"
            label += 1
        if ref == vref:
            vref = prev
        else:
            aref = prev
    if graph:
        args += ["-filter_complex", ";".join(graph)]
    if streams.video:
        args += ["-map", vref]
    if streams.audio:
        args += ["-map", aref]
    return args + render_options(opts, output=True) + [target]


def build(binary: str, source: safety.Source, input_params: dict[str, Any] | None,
          out: Output, streams: Streams, target: str, forced_format: str | None,
          format_whitelist: str) -> list[str]:
    fence = ["-format_whitelist", format_whitelist,
             "-protocol_whitelist", source.protocol_whitelist]
    if source.is_url:
        fence += ["-rw_timeout", NETWORK_TIMEOUT_US]
    return [binary, *FIXED, *fence,
            *layout(source.arg, input_params, out, streams, target, forced_format)]
