"""The media scope's functions, shared by the CLI and the HTTP API.

With no media service registered, the first call starts the embedded default: oca's ffmpeg
backend (`oca.backends.media_server`, recipe `media`) as a `local` process named
`media-default`, using this machine's ffmpeg. Later calls reuse it; if it died, it is
restarted through its runtime.

Sources given on the command line (`local_files=True`) may be local files: they are staged
into the backend (hard-linked into a local backend's uploads, else uploaded over HTTP).
Over HTTP (`oca serve`) a source string is passed as is and the backend checks it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oca.errors import BadInput, Conflict, OcaError, Unavailable
from oca.models import Service

DEFAULT_NAME = "media-default"
URL_SCHEMES = ("http", "https", "rtmp", "rtmps", "rtsp")
SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")
POLL = 0.5

Status = Callable[[str], None] | None
Progress = Callable[[float | None, list[dict[str, Any]]], None] | None


def _say(status: Status, text: str) -> None:
    if status is not None:
        status(text)


def ensure_default(status: Status = None) -> Service:
    """The embedded default media service, registered and started on first use."""
    from filelock import FileLock

    from oca import config
    from oca.registry import Registry

    with FileLock(str(config.run_dir() / f"{DEFAULT_NAME}.lock"), timeout=120):
        for svc in Registry().list("media"):
            if svc.name == DEFAULT_NAME:
                return _revive(svc, status)
        if not shutil.which("ffmpeg") or not shutil.which("ffprobe"):
            raise Unavailable("ffmpeg is not installed on this machine", hint=(
                "install it (apt-get install ffmpeg), or run the media backend in a "
                "container: oca service add media --recipe media --runtime docker"))
        from oca import services
        from oca.models import ServiceBase

        _say(status, "starting the local ffmpeg backend (first use)...")
        return services.add(ServiceBase(
            name=DEFAULT_NAME, scope="media", recipe="media", runtime="local",
            description="embedded default: oca's ffmpeg backend with this machine's ffmpeg",
        ))


def _revive(svc: Service, status: Status = None) -> Service:
    """Restart the default's local process if it is gone (others are left as they are)."""
    if svc.name != DEFAULT_NAME or svc.runtime != "local":
        return svc
    from oca.runtime import get_runtime

    runtime = get_runtime("local")
    if runtime.status(svc) != "running":
        _say(status, "restarting the local ffmpeg backend...")
        runtime.start(svc)
    return svc


def resolve(ref: str | None = None, status: Status = None) -> Service:
    """The media service a call uses: named, the only one, or the embedded default."""
    from oca import services
    from oca.registry import Registry

    if not ref:
        found = Registry().list("media")
        if not found:
            return ensure_default(status)
        if len(found) == 1:
            return _revive(found[0], status)
    return _revive(services.pick("media", ref), status)


def _call(svc: Service, op: str, **params: Any) -> Any:
    from oca.calls import call

    return call(svc, op, **params)


# --- sources ---------------------------------------------------------------------------------


def is_url(source: str) -> bool:
    m = SCHEME_RE.match(source)
    return bool(m)


def check_source_arg(source: str) -> None:
    """Refuse a CLI source that is neither a readable file, `-`, nor an allowed URL."""
    m = SCHEME_RE.match(source)
    if m:
        if m.group(1).lower() not in URL_SCHEMES:
            raise BadInput(f"source scheme {m.group(1)}: is not allowed",
                           hint=f"pass a local path or a {'/'.join(URL_SCHEMES)} URL")
        return
    if source != "-":
        path = Path(source).expanduser()
        if not path.is_file():
            raise BadInput(f"no such file: {source}" if not path.exists()
                           else f"not a regular file: {source}")


def stage(svc: Service, source: str) -> str:
    """The source string the backend should get for a CLI argument (a path, `-` or a URL)."""
    check_source_arg(source)
    if SCHEME_RE.match(source):
        return source
    if source == "-":
        import tempfile

        with tempfile.NamedTemporaryFile(prefix="oca-stdin-", delete=False) as f:
            shutil.copyfileobj(sys.stdin.buffer, f)
        try:
            return _stage_file(svc, Path(f.name), "stdin")
        finally:
            os.unlink(f.name)
    path = Path(source).expanduser()
    return _stage_file(svc, path, path.name)


def _stage_file(svc: Service, path: Path, name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)[-100:].lstrip(".") or "upload"
    if svc.runtime == "local":
        from oca.runtime.local import data_dir

        uploads = data_dir(svc.id) / "uploads"
        if uploads.is_dir():
            token = secrets.token_hex(6)
            folder = uploads / token
            folder.mkdir()
            try:
                os.link(path, folder / safe)
            except OSError:
                shutil.copyfile(path, folder / safe)
            return f"{token}/{safe}"
    return _call(svc, "upload", file=str(path), name=safe)["source"]


# --- the contract's calls --------------------------------------------------------------------


class _Named:
    """Show the user's source name, not the staged one, in errors."""

    def __init__(self, staged: str, original: str) -> None:
        self.staged, self.original = staged, original

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: Any, e: BaseException | None, tb: Any) -> None:
        if isinstance(e, OcaError) and self.staged != self.original:
            e.message = e.message.replace(self.staged, self.original)
            e.args = (e.message,)


def probe(source: str, params: dict[str, Any] | None = None, service: str | None = None,
          local_files: bool = False) -> dict[str, Any]:
    """ffprobe JSON (`streams`, `format`) of a source."""
    if local_files:
        check_source_arg(source)
    svc = resolve(service)
    staged = stage(svc, source) if local_files else source
    with _Named(staged, source):
        return _call(svc, "probe", source=staged, params=params)


def create_pipeline(pipeline: dict[str, Any], service: str | None = None) -> dict[str, Any]:
    """Start a pipeline (upstream's JSON shape); returns `{"id", "outputs"}`."""
    return _create(resolve(service), pipeline)


def _create(svc: Service, pipeline: dict[str, Any]) -> dict[str, Any]:
    from oca.contract.media import Pipeline
    from oca.models import parse

    p = parse(Pipeline, pipeline, "pipeline")
    data = p.model_dump(exclude_none=True)
    data["ttl"] = p.ttl
    return _call(svc, "create_pipeline", **data)


def status(pipeline_id: str, service: str | None = None, wait: float | None = None
           ) -> list[dict[str, Any]]:
    return _call(resolve(service), "pipeline_status", pipeline_id=pipeline_id, wait=wait)


def stop(pipeline_id: str, service: str | None = None) -> list[dict[str, Any]]:
    return _call(resolve(service), "stop_pipeline", pipeline_id=pipeline_id)


def ls(service: str | None = None) -> list[dict[str, Any]]:
    return _call(resolve(service), "list_pipelines")


# --- transcode -------------------------------------------------------------------------------


def _scale_filter(scale: str) -> dict[str, Any]:
    m = re.fullmatch(r"(-?\d+)[x:](-?\d+)", scale.strip())
    if m:
        return {"w": int(m.group(1)), "h": int(m.group(2))}
    try:
        f = float(scale)
    except ValueError as e:
        raise BadInput(f"invalid --scale {scale!r}: use a factor (0.5) or WxH (640x-2)") from e
    if not 0 < f <= 8:
        raise BadInput(f"invalid --scale {scale!r}: the factor must be in (0, 8]")
    # even sizes keep every encoder (x264 needs them) happy
    return {"w": f"trunc(iw*{f:g}/2)*2", "h": f"trunc(ih*{f:g}/2)*2"}


def shorthand(container: str = "mp4", vcodec: str | None = None, acodec: str | None = None,
              scale: str | None = None, crf: int | None = None, preset: str | None = None,
              start: str | None = None, duration: str | None = None) -> dict[str, Any]:
    """A one-output pipeline (without its source) from the CLI's shorthand flags."""
    video: dict[str, Any] = {"stream_type": "video"}
    if vcodec:
        video["codec"] = vcodec
    codec_params: dict[str, Any] = {}
    if crf is not None:
        codec_params["crf"] = str(crf)
    if preset:
        codec_params["preset"] = preset
    if codec_params:
        video["codec_params"] = codec_params
    if scale:
        video["filters"] = {"scale": _scale_filter(scale)}
    channels = [video] if len(video) > 1 else []
    if acodec:
        channels.append({"stream_type": "audio", "codec": acodec})
    out: dict[str, Any] = {"container": container}
    if channels:
        out["channels"] = channels
    params: dict[str, Any] = {}
    if start:
        params["ss"] = start
    if duration:
        params["t"] = duration
    return {"input_file": {"source": "", "params": params or None}, "outputs": [out]}


def load_pipeline(path: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise BadInput(f"cannot read pipeline file {path}: {e.strerror}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise BadInput(f"pipeline file {path} is not valid JSON: {e.msg} at line {e.lineno}"
                       ) from e
    if not isinstance(data, dict):
        raise BadInput(f"pipeline file {path} must hold a JSON object")
    data.setdefault("input_file", {"source": ""})
    return data


def _is_file_output(out: dict[str, Any]) -> bool:
    return out.get("container") != "mpegts" and not out.get("rtmp_ip")


def plan_outputs(source: str, outputs: list[dict[str, Any]], output_dir: Path,
                 overwrite: bool) -> list[Path | None]:
    """Local names for the file outputs: `<source stem>.<container>` (numbered on clashes)."""
    stem = "stdin" if source == "-" else (Path(source.split("?")[0]).stem or "output")
    exts = [o.get("container", "") for o in outputs]
    plan: list[Path | None] = []
    for i, out in enumerate(outputs):
        if not _is_file_output(out):
            plan.append(None)
            continue
        ext = exts[i]
        name = f"{stem}.{ext}" if exts.count(ext) == 1 else f"{stem}-{i + 1}.{ext}"
        path = output_dir / name
        if not overwrite and path.exists():
            raise Conflict(f"{path} already exists", hint="pass --overwrite, or another "
                                                          "--output-dir")
        if not is_url(source) and source != "-" and path.resolve() == Path(source).resolve():
            raise Conflict(f"the output {path} would overwrite the source",
                           hint="pass another --output-dir")
        plan.append(path)
    return plan


def overall_progress(statuses: list[dict[str, Any]]) -> float | None:
    known = [s["progress"] for s in statuses if s.get("progress") is not None]
    if not known:
        return None
    return sum(known) / len(statuses)


def wait_done(svc: Service, pipeline_id: str, on_progress: Progress = None,
              timeout: float | None = None) -> list[dict[str, Any]]:
    """Long-poll the pipeline until every output has ended (Ctrl-C stops it)."""
    end = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            statuses = _call(svc, "pipeline_status", pipeline_id=pipeline_id, wait=POLL)
            if on_progress is not None:
                on_progress(overall_progress(statuses), statuses)
            if all(s["status"] not in ("created", "running") for s in statuses):
                return statuses
            if end is not None and time.monotonic() > end:
                from oca.errors import Timeout

                raise Timeout(f"pipeline {pipeline_id} still running after {timeout:g} s",
                              hint=f"follow it with `oca media status {pipeline_id}`")
    except KeyboardInterrupt:
        _call(svc, "stop_pipeline", pipeline_id=pipeline_id)
        raise


def _fetch(svc: Service, pipeline_id: str, st: dict[str, Any], dest: Path) -> int:
    if svc.runtime == "local":
        from oca.runtime.local import data_dir

        src = data_dir(svc.id) / "pipelines" / pipeline_id / str(st.get("file"))
        if src.is_file():
            tmp = dest.with_name(dest.name + ".part")
            tmp.unlink(missing_ok=True)
            try:  # the output is complete: a hard link is an instant, independent copy
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
            tmp.replace(dest)
            return dest.stat().st_size
    return int(_call(svc, "download_output", pipeline_id=pipeline_id, output_id=st["id"],
                     dest=str(dest))["size"])


def transcode(source: str, pipeline: dict[str, Any], output_dir: str | None = ".",
              wait: bool = True, overwrite: bool = False, service: str | None = None,
              on_progress: Progress = None, status_cb: Status = None) -> dict[str, Any]:
    """Stage `source`, start `pipeline` on it and, with `wait`, copy the results locally.

    `pipeline` is upstream's shape; its `input_file.source` is replaced by `source` (its
    params are kept). Returns `{"id", "outputs": [...]}` with local paths when waited for.
    """
    from oca.contract.media import Pipeline
    from oca.models import parse

    pipe = dict(pipeline)
    inp = dict(pipe.get("input_file") or {})
    inp["source"] = source
    pipe["input_file"] = inp
    parse(Pipeline, pipe, "pipeline")  # shape errors before anything is staged or started
    check_source_arg(source)
    outputs = pipe.get("outputs") or []
    out_dir = Path(output_dir or ".")
    plan: list[Path | None] = []
    if wait:
        if out_dir.exists() and not out_dir.is_dir():
            raise BadInput(f"--output-dir {out_dir} is not a folder")
        out_dir.mkdir(parents=True, exist_ok=True)
        plan = plan_outputs(source, outputs, out_dir, overwrite)
    svc = resolve(service, status_cb)
    inp["source"] = stage(svc, source)
    started = time.monotonic()
    with _Named(inp["source"], source):
        created = _create(svc, pipe)
    pid = created["id"]
    if not wait:
        return {"id": pid, "outputs": created.get("outputs", []), "service": svc.name}
    statuses = wait_done(svc, pid, on_progress)
    failed = [s for s in statuses if s["status"] != "finished"]
    if failed:
        s = failed[0]
        last = next((ln.strip() for ln in reversed(s.get("command_output") or [])
                     if ln.strip()), "")
        raise BadInput(f"output {s['id']} {s['status']} (ffmpeg exit {s['command_retcode']})"
                       + (f": {last}" if last else ""),
                       hint=f"see `oca media status {pid}`")
    results = []
    for st, dest in zip(statuses, plan, strict=False):
        entry = {"id": st["id"], "status": st["status"], "target": st.get("target")}
        if dest is not None and st.get("file"):
            entry["size"] = _fetch(svc, pid, st, dest)
            entry["path"] = str(dest)
        results.append(entry)
    return {"id": pid, "service": svc.name, "elapsed": round(time.monotonic() - started, 3),
            "outputs": results}
