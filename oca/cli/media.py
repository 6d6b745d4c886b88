"""`oca media ...`: probe and transcode with an ffmpeg service; list, follow and stop pipelines."""

from __future__ import annotations

import sys
import time
from typing import Any

import typer

from oca.cli import render
from oca.cli.common import group

app = group("Probe and transcode media with an ffmpeg service.")

SERVICE = typer.Option(None, "--service", "-s", help="Media service name or id (default: the "
                       "only one, or the embedded local ffmpeg backend).")


def _status_line(text: str) -> None:
    render.info(text)


@app.command("probe")
def probe(
    source: str = typer.Argument(..., help="A local file, - for stdin, or an http(s) URL."),
    service: str = SERVICE,
) -> None:
    """Show a source's format and streams (ffprobe; the full JSON with --json).

    Example: oca media probe clip.mp4
    """
    from oca.scopes import media

    info = media.probe(source, service=service, local_files=True)
    if render.STATE.json:
        render.emit_json(info)
        return
    fmt = info.get("format") or {}
    dur = fmt.get("duration")
    head = {"source": source, "format": fmt.get("format_name"),
            "duration": f"{float(dur):.3f} s" if dur else None,
            "size": fmt.get("size"), "bit_rate": fmt.get("bit_rate")}
    render.record({k: v for k, v in head.items() if v is not None})
    rows = []
    for s in info.get("streams") or []:
        if s.get("codec_type") == "video":
            detail = f"{s.get('width')}x{s.get('height')} {s.get('pix_fmt', '')} " \
                     f"{s.get('avg_frame_rate', '')} fps"
        elif s.get("codec_type") == "audio":
            detail = f"{s.get('sample_rate')} Hz {s.get('channels')} ch"
        else:
            detail = ""
        rows.append({"index": s.get("index"), "type": s.get("codec_type"),
                     "codec": s.get("codec_name"), "detail": detail.strip()})
    render.table(rows, ["index", "type", "codec", "detail"])


@app.command("transcode")
def transcode(
    source: str = typer.Argument(..., help="A local file, - for stdin, or an http(s) URL."),
    pipeline: str = typer.Option(None, "--pipeline", "-p", help="Upstream's pipeline JSON "
                                 "(file, or - for stdin); SOURCE replaces its input_file."),
    container: str = typer.Option(None, "--container", "--to", "-c",
                                  help="Output container: mp4, webm, mkv, mp3, ... "
                                       "(default mp4)."),
    vcodec: str = typer.Option(None, "--vcodec", help="Video encoder, e.g. libx264, libvpx, "
                               "copy."),
    acodec: str = typer.Option(None, "--acodec", help="Audio encoder, e.g. aac, libvorbis, "
                               "copy."),
    scale: str = typer.Option(None, "--scale", help="A factor (0.5) or WxH (640x-2)."),
    crf: int = typer.Option(None, "--crf", help="Video quality (encoder's CRF)."),
    preset: str = typer.Option(None, "--preset", help="Encoder preset, e.g. veryfast."),
    start: str = typer.Option(None, "--start", help="Start time (seconds or HH:MM:SS)."),
    duration: str = typer.Option(None, "--duration", help="Length to keep (seconds or "
                                 "HH:MM:SS)."),
    output_dir: str = typer.Option(".", "--output-dir", "-o", help="Where results are "
                                   "copied (with --wait)."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait with a progress bar and "
                              "copy the results (default), or print the pipeline id."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing files in "
                                   "--output-dir."),
    service: str = SERVICE,
) -> None:
    """Transcode SOURCE with a pipeline file or shorthand flags; progress shows on stderr.

    Example: oca media transcode clip.mp4 --to webm --vcodec libvpx --acodec libvorbis --scale 0.5
    """
    from oca.errors import BadInput
    from oca.scopes import media

    flags = [vcodec, acodec, scale, crf, preset, start, duration]
    if pipeline:
        if any(v is not None for v in [container, *flags]):
            raise BadInput("--pipeline cannot be combined with the shorthand flags",
                           hint="put codecs and filters in the pipeline file")
        spec = media.load_pipeline(pipeline)
    else:
        spec = media.shorthand(container or "mp4", vcodec, acodec, scale, crf, preset, start,
                               duration)
    with render.progress("transcoding", total=100) as advance:

        def on_progress(pct: float | None, statuses: list[dict[str, Any]]) -> None:
            speed = ""
            done = [s for s in statuses if s.get("out_time") and s.get("started_at")]
            if done:
                ran = time.time() - min(s["started_at"] for s in done)
                rate = max(s["out_time"] for s in done) / max(ran, 1e-3)
                speed = f" {rate:.1f}x"
            advance(completed=pct if pct is not None else 0,
                    description=f"transcoding{speed}")

        result = media.transcode(source, spec, output_dir=output_dir, wait=wait,
                                 overwrite=overwrite, service=service,
                                 on_progress=on_progress if wait else None,
                                 status_cb=_status_line)
    if render.STATE.json:
        render.emit_json(result)
        return
    if not wait:
        sys.stdout.write(result["id"] + "\n")
        return
    for o in result["outputs"]:
        where = o.get("path") or o.get("target")
        size = f" ({o['size']} bytes)" if o.get("size") is not None else ""
        sys.stdout.write(f"{where}{size}\n")
    render.info(f"pipeline {result['id']} done in {result['elapsed']:.2f} s")


def _status_rows(statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for s in statuses:
        pct = s.get("progress")
        rows.append({"output": s.get("id"), "status": s.get("status"),
                     "progress": "" if pct is None else f"{pct:.0f}%",
                     "retcode": s.get("command_retcode"), "target": s.get("target")})
    return rows


def _show_statuses(statuses: list[dict[str, Any]]) -> None:
    if render.STATE.json:
        render.emit_json(statuses)
        return
    render.table(_status_rows(statuses), ["output", "status", "progress", "retcode", "target"])
    if render.STATE.verbose:
        for s in statuses:
            sys.stdout.write(f"\n{s['id']}: {s['command']}\n")
            sys.stdout.write("".join(s.get("command_output") or []))


@app.command("ls")
def ls(service: str = SERVICE) -> None:
    """List the pipelines of a media service.

    Example: oca media ls
    """
    from oca.scopes import media

    pipes = media.ls(service)
    if render.STATE.json:
        render.emit_json(pipes)
        return
    rows = [{"id": p["id"], "status": p["status"], "outputs": len(p["outputs"]),
             "source": p["source"],
             "created": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p["created_at"]))}
            for p in pipes]
    render.table(rows, ["id", "status", "outputs", "source", "created"])


@app.command("status")
def status(
    pipeline_id: str = typer.Argument(..., help="Pipeline id (from transcode --no-wait)."),
    service: str = SERVICE,
) -> None:
    """Status of each output of a pipeline (-v adds the command and ffmpeg's last lines).

    Example: oca media status kabedifolu
    """
    from oca.scopes import media

    _show_statuses(media.status(pipeline_id, service))


@app.command("stop")
def stop(
    pipeline_id: str = typer.Argument(..., help="Pipeline id."),
    service: str = SERVICE,
) -> None:
    """Stop every running output of a pipeline.

    Example: oca media stop kabedifolu
    """
    from oca.scopes import media

    _show_statuses(media.stop(pipeline_id, service))
