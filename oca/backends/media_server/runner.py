"""Pipelines: one ffmpeg process per output, progress from `-progress`, stop, TTL clean-up.

State lives in `<data>/pipelines/<id>/` (outputs, logs, `state.json`), so finished pipelines
and their TTL survive a restart of the backend (upstream kept them in a pickle and in-memory
timers). Uploads go to `<data>/uploads/<token>/<name>`.
"""

from __future__ import annotations

import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from oca.backends.media_server import caps, command, safety
from oca.contract.media import InputFile, Output, OutputStatus, Pipeline
from oca.errors import BadInput, NotFound, Timeout, Unavailable
from oca.ids import new_id

TAIL_LINES = 20
UPLOAD_TTL = 3600.0
STOP_GRACE = 5.0
PROBE_CACHE = 256
MAX_RUNNING = 32  # ffmpeg processes at once; more is refused rather than thrashing the host
PROBE_KEYS = {"f", "format", "video_size", "pixel_format", "framerate", "sample_rate",
              "channels", "ch_layout"}


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except FileNotFoundError:
        return []
    return [line + "\n" for line in text.splitlines()[-lines:]]


def _seconds(value: Any) -> float | None:
    """An ffmpeg time (`12.5`, `00:01:02.5`) in seconds; None if unparseable."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        sign = -1 if text.startswith("-") else 1
        parts = [float(p) for p in text.lstrip("-").split(":")]
    except ValueError:
        return None
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return sign * total


def expected_duration(probe: dict[str, Any], inp: dict[str, Any], out: dict[str, Any]
                      ) -> float | None:
    """How long the output should be, for progress %; None for endless or unknown."""
    if "stream_loop" in inp:
        return None
    dur = _seconds((probe.get("format") or {}).get("duration"))
    ss = _seconds(inp.get("ss")) or 0.0
    if dur is not None:
        dur = max(0.0, dur - ss)
    for limits in (inp, out):
        t = _seconds(limits.get("t"))
        to = _seconds(limits.get("to"))
        for cap in (t, None if to is None else to - (ss if limits is inp else 0.0)):
            if cap is not None and cap >= 0:
                dur = cap if dur is None else min(dur, cap)
    return dur if dur else None


class OutputRun:
    def __init__(self, oid: str, args: list[str], target: str, file: str | None,
                 duration: float | None) -> None:
        self.id = oid
        self.args = args
        self.target = target
        self.file = file
        self.duration = duration
        self.status = "created"
        self.retcode: int | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.out_time: float | None = None
        self.size: int | None = None
        self.stopping = False
        self.ended = False

    @property
    def done(self) -> bool:
        return self.status in ("finished", "error", "stopped")

    def progress(self) -> float | None:
        if self.status == "finished":
            return 100.0
        if not self.duration or self.out_time is None:
            return None
        return round(max(0.0, min(100.0, 100.0 * self.out_time / self.duration)), 1)

    def to_state(self) -> dict[str, Any]:
        keys = ("id", "args", "target", "file", "duration", "status", "retcode", "pid",
                "started_at", "finished_at", "out_time", "size")
        return {k: getattr(self, k) for k in keys}

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> OutputRun:
        o = cls(d["id"], d["args"], d["target"], d.get("file"), d.get("duration"))
        for k in ("status", "retcode", "pid", "started_at", "finished_at", "out_time", "size"):
            setattr(o, k, d.get(k))
        return o


class PipelineRun:
    def __init__(self, pid: str, source: str, ttl: int | None, folder: Path,
                 upload: str | None) -> None:
        self.id = pid
        self.source = source
        self.ttl = ttl
        self.folder = folder
        self.upload = upload
        self.created_at = time.time()
        self.outputs: list[OutputRun] = []

    @property
    def done(self) -> bool:
        return all(o.done for o in self.outputs)

    def status(self) -> str:
        states = [o.status for o in self.outputs]
        for s in ("running", "created", "error", "stopped"):
            if s in states:
                return s
        return "finished"

    def to_state(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "ttl": self.ttl, "upload": self.upload,
                "created_at": self.created_at, "outputs": [o.to_state() for o in self.outputs]}


class Runner:
    def __init__(self, data: Path, roots: list[Path] | None = None,
                 stream_host: str = "127.0.0.1", probe_timeout: float = 20.0) -> None:
        self.data = data.resolve()
        self.uploads = self.data / "uploads"
        self.pipes_dir = self.data / "pipelines"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.pipes_dir.mkdir(parents=True, exist_ok=True)
        self.roots = [Path(r).resolve() for r in roots or []]
        self.stream_host = stream_host
        self.probe_timeout = probe_timeout
        self.pipelines: dict[str, PipelineRun] = {}
        self._probe_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.cond = threading.Condition()
        self._closed = False
        self._load()
        threading.Thread(target=self._reaper, name="ttl-reaper", daemon=True).start()
        threading.Thread(target=self._warm, name="caps", daemon=True).start()

    def _warm(self) -> None:
        """Read ffmpeg's capability lists now, so the first pipeline does not wait for them."""
        try:
            for kind in ("demuxers", "muxers", "encoders", "filters", "decoders"):
                caps.names(kind)
            caps.version()
        except Exception:  # noqa: BLE001 - reported by the first call that needs them
            pass

    # --- probe ---------------------------------------------------------------------------

    def _whitelist(self) -> str:
        return ",".join(sorted(safety.INPUT_FORMATS & caps.names("demuxers")))

    def _probe(self, src: safety.Source, params: dict[str, Any] | None) -> dict[str, Any]:
        """ffprobe JSON; a local file's result is reused while its identity is unchanged."""
        probe_params = {k: v for k, v in (params or {}).items() if k in PROBE_KEYS}
        key = None
        if src.path is not None:
            try:
                st = src.path.stat()
            except OSError:
                st = None
            if st is not None:
                key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                       json.dumps(probe_params, sort_keys=True))
                with self.cond:
                    hit = self._probe_cache.get(key)
                if hit is not None:
                    return hit
        out = self._run_probe(src, probe_params)
        if key is not None:
            with self.cond:
                if len(self._probe_cache) >= PROBE_CACHE:
                    self._probe_cache.pop(next(iter(self._probe_cache)))
                self._probe_cache[key] = out
        return out

    def _run_probe(self, src: safety.Source, probe_params: dict[str, Any]) -> dict[str, Any]:
        extra = command.render_options(probe_params, output=False)
        args = [caps.binary("ffprobe"), "-hide_banner", "-v", "error", "-show_format",
                "-show_streams", "-of", "json", "-format_whitelist", self._whitelist(),
                "-protocol_whitelist", src.protocol_whitelist]
        if src.is_url:
            args += ["-rw_timeout", command.NETWORK_TIMEOUT_US]
        args += [*extra, src.arg]
        try:
            p = subprocess.run(args, capture_output=True, timeout=self.probe_timeout,  # noqa: S603
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise Timeout(f"ffprobe did not finish within {self.probe_timeout:g} s on "
                          f"{src.original}") from e
        lines = [ln.replace(src.arg, src.original)
                 for ln in p.stderr.decode(errors="replace").splitlines() if ln.strip()]
        if p.returncode != 0:
            last = lines[-1] if lines else f"ffprobe exited with {p.returncode}"
            fenced = next((ln for ln in lines if "Format not on whitelist" in ln), None)
            if fenced:
                m = re.match(r"^\[([\w,]+) @", fenced)
                last = f"its format ({m.group(1) if m else 'unknown'}) is not an accepted " \
                       "media format"
            raise BadInput(f"cannot read {src.original} as media: {last}",
                           hint="is it an audio/video file in a supported format?",
                           detail=lines)
        try:
            out = json.loads(p.stdout or b"{}")
        except ValueError as e:
            raise BadInput(f"ffprobe gave unreadable output for {src.original}") from e
        if not out.get("streams"):
            raise BadInput(f"{src.original} has no audio or video stream", detail=lines)
        return out

    def probe(self, inp: InputFile) -> dict[str, Any]:
        safety.check_options(inp.params, "input")
        src = safety.check_source(inp.source, self.roots, self.uploads)
        return self._probe(src, inp.params)

    # --- create --------------------------------------------------------------------------

    def _udp_port(self) -> int:
        for _ in range(200):
            port = random.randint(49152, 65535)  # noqa: S311 - not a secret
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                try:
                    s.bind(("0.0.0.0", port))  # noqa: S104 - a probe for a free port
                except OSError:
                    continue
                return port
        raise Unavailable("cannot allocate a free UDP port")

    def _target(self, out: Output, oid: str) -> tuple[str, str, str | None, str | None]:
        """(target, ffmpeg's target argument, file name or None, forced format), checked."""
        safety.check_container(out.container)
        if out.container == "mpegts":
            host = safety.check_host(out.udp_ip or self.stream_host, "udp_ip")
            port = out.udp_port or self._udp_port()
            # 7 TS packets per datagram: receivers expect whole 188-byte packets
            return f"udp://{host}:{port}", f"udp://{host}:{port}?pkt_size=1316", None, "mpegts"
        if out.udp_ip or out.udp_port:
            raise BadInput("udp_ip/udp_port need container mpegts")
        if out.rtmp_ip or out.rtmp_path:
            if not (out.rtmp_ip and out.rtmp_path):
                raise BadInput("an RTMP output needs both rtmp_ip and rtmp_path")
            host = safety.check_host(out.rtmp_ip, "rtmp_ip", port_ok=True)
            url = f"rtmp://{host}/{safety.check_rtmp_path(out.rtmp_path)}"
            return url, url, None, "flv"
        name = f"{oid}.{out.container}"
        return name, name, name, None

    def create(self, pipe: Pipeline) -> dict[str, Any]:
        if not pipe.outputs:
            raise BadInput("No outputs specified")
        safety.check_options(pipe.input_file.params, "input")
        for out in pipe.outputs:
            if out.storage:
                raise BadInput("storage uploads are not supported by this backend",
                               hint="fetch outputs with `oca media transcode --output-dir`")
            safety.check_container(out.container)
            safety.check_options(out.params, "output")
            for ch in out.channels or []:
                command.check_channel(ch)
        with self.cond:
            running = sum(1 for r in self.pipelines.values() for o in r.outputs if not o.done)
        if running + len(pipe.outputs) > MAX_RUNNING:
            raise Unavailable(f"the media backend already runs {running} ffmpeg processes "
                              f"(limit {MAX_RUNNING})", hint="stop a pipeline, or wait")
        src = safety.check_source(pipe.input_file.source, self.roots, self.uploads)
        probe = self._probe(src, pipe.input_file.params)
        streams = command.Streams.from_probe(probe)
        with self.cond:
            pid = new_id(10)
            while pid in self.pipelines:
                pid = new_id(10)
        folder = self.pipes_dir / pid
        upload = None
        if src.path is not None and src.path.is_relative_to(self.uploads):
            upload = src.path.relative_to(self.uploads).parts[0]
        run = PipelineRun(pid, pipe.input_file.source, pipe.ttl, folder, upload)
        whitelist = self._whitelist()
        ffmpeg = caps.binary("ffmpeg")
        for out in pipe.outputs:
            oid = new_id(8)
            while any(o.id == oid for o in run.outputs):
                oid = new_id(8)
            target, arg, file, forced = self._target(out, oid)
            args = command.build(ffmpeg, src, pipe.input_file.params, out, streams, arg,
                                 forced, whitelist)
            opts, _, _ = command.output_options(out, forced)
            dur = expected_duration(probe, pipe.input_file.params or {}, opts)
            run.outputs.append(OutputRun(oid, args, target, file, dur))
        folder.mkdir(parents=True)
        try:
            for o in run.outputs:
                self._launch(run, o)
        except OSError as e:
            for o in run.outputs:
                self._signal(o, signal.SIGKILL)
            shutil.rmtree(folder, ignore_errors=True)
            raise Unavailable(f"cannot start ffmpeg: {e}") from e
        with self.cond:
            self.pipelines[pid] = run
            self._save(run)
        for o in run.outputs:
            threading.Thread(target=self._watch, args=(run, o), daemon=True,
                             name=f"ffmpeg-{pid}-{o.id}").start()
        return {"id": pid, "outputs": [o.target for o in run.outputs],
                "output_ids": [o.id for o in run.outputs]}

    def _launch(self, run: PipelineRun, o: OutputRun) -> None:
        with open(run.folder / f"{o.id}.log", "wb") as log:
            o.proc = subprocess.Popen(  # noqa: S603 - an argument list, never a shell
                o.args, cwd=run.folder, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=log, close_fds=True,
            )
        o.pid = o.proc.pid
        o.started_at = time.time()
        o.status = "running"

    def _watch(self, run: PipelineRun, o: OutputRun) -> None:
        """Read `-progress` key=value lines until ffmpeg exits, then record the outcome."""
        assert o.proc is not None and o.proc.stdout is not None
        stream: IO[bytes] = o.proc.stdout
        for raw in stream:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                o.out_time = max(0.0, int(value) / 1e6)
            elif key == "total_size" and value.isdigit():
                o.size = int(value)
        rc = o.proc.wait()
        stream.close()
        with self.cond:
            o.retcode = rc
            o.finished_at = time.time()
            o.status = "stopped" if o.stopping else ("finished" if rc == 0 else "error")
            if o.file:
                try:
                    o.size = (run.folder / o.file).stat().st_size
                except OSError:
                    pass
            o.ended = True
            if run.id in self.pipelines:
                self._save(run)
            self.cond.notify_all()

    # --- status, stop, list --------------------------------------------------------------

    def get(self, pid: str) -> PipelineRun:
        run = self.pipelines.get(pid)
        if run is None:
            raise NotFound(f"Pipeline {pid} doesn't exist",
                           hint="list pipelines with `oca media ls`")
        return run

    def output_status(self, run: PipelineRun, o: OutputRun) -> dict[str, Any]:
        return OutputStatus(
            id=o.id, command=shlex.join(o.args), status=o.status,  # type: ignore[arg-type]
            command_output=tail(run.folder / f"{o.id}.log"), command_retcode=o.retcode,
            target=o.target, file=o.file, progress=o.progress(), out_time=o.out_time,
            duration=o.duration, size=o.size, pid=o.pid, started_at=o.started_at,
            finished_at=o.finished_at,
        ).model_dump()

    def status(self, pid: str, wait: float | None = None) -> list[dict[str, Any]]:
        with self.cond:
            run = self.get(pid)
            if wait and wait > 0:
                self.cond.wait_for(lambda: run.done, timeout=min(wait, 60.0))
            return [self.output_status(run, o) for o in run.outputs]

    def _signal(self, o: OutputRun, sig: int) -> None:
        if o.proc is not None and o.proc.poll() is None:
            try:
                o.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def stop(self, pid: str) -> list[dict[str, Any]]:
        """SIGINT (ffmpeg closes its files cleanly), then SIGKILL after a grace period."""
        with self.cond:
            run = self.get(pid)
            live = [o for o in run.outputs if not o.done]
            for o in live:
                o.stopping = True
                self._signal(o, signal.SIGINT)
            if not self.cond.wait_for(lambda: all(o.ended for o in live), timeout=STOP_GRACE):
                for o in live:
                    self._signal(o, signal.SIGKILL)
                self.cond.wait_for(lambda: all(o.ended for o in live), timeout=STOP_GRACE)
            return [self.output_status(run, o) for o in run.outputs]

    def list(self) -> list[dict[str, Any]]:
        with self.cond:
            runs = sorted(self.pipelines.values(), key=lambda r: r.created_at)
            return [{"id": r.id, "status": r.status(), "source": r.source,
                     "created_at": r.created_at, "ttl": r.ttl,
                     "outputs": [self.output_status(r, o) for o in r.outputs]} for r in runs]

    def output_file(self, pid: str, oid: str) -> Path:
        with self.cond:
            run = self.get(pid)
            o = next((o for o in run.outputs if o.id == oid), None)
            if o is None or not o.file:
                raise NotFound(f"pipeline {pid} has no output file {oid}")
            if not o.done:
                raise BadInput(f"output {oid} of pipeline {pid} is still running")
            path = run.folder / o.file
        if not path.is_file():
            raise NotFound(f"output {oid} of pipeline {pid} produced no file")
        return path

    # --- uploads -------------------------------------------------------------------------

    def upload(self, stream: IO[bytes], length: int, name: str) -> dict[str, Any]:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(name or "upload"))[-100:]
        safe = safe.lstrip(".") or "upload"
        token = new_id(12)
        folder = self.uploads / token
        folder.mkdir(parents=True)
        left = length
        with open(folder / safe, "wb") as f:
            while left > 0:
                chunk = stream.read(min(left, 1 << 20))
                if not chunk:
                    shutil.rmtree(folder, ignore_errors=True)
                    raise BadInput("upload ended early")
                f.write(chunk)
                left -= len(chunk)
        return {"source": f"{token}/{safe}", "size": length}

    # --- persistence and TTL -------------------------------------------------------------

    def _save(self, run: PipelineRun) -> None:
        tmp = run.folder / "state.json.tmp"
        tmp.write_text(json.dumps(run.to_state()))
        tmp.replace(run.folder / "state.json")

    def _load(self) -> None:
        for state in sorted(self.pipes_dir.glob("*/state.json")):
            try:
                d = json.loads(state.read_text())
            except (OSError, ValueError):
                continue
            run = PipelineRun(d["id"], d["source"], d.get("ttl"), state.parent, d.get("upload"))
            run.created_at = d.get("created_at", time.time())
            for od in d.get("outputs", []):
                o = OutputRun.from_state(od)
                if not o.done:  # its process died with the previous backend
                    o.status, o.finished_at = "error", time.time()
                o.ended = True
                run.outputs.append(o)
            self.pipelines[run.id] = run

    def _reap_once(self, now: float) -> None:
        with self.cond:
            expired = [r for r in self.pipelines.values()
                       if r.done and r.ttl is not None
                       and now >= max((o.finished_at or now) for o in r.outputs) + r.ttl]
            for r in expired:
                del self.pipelines[r.id]
            in_use = {r.upload for r in self.pipelines.values() if r.upload}
            for r in expired:  # under the lock: a pipeline is gone once it is not found
                shutil.rmtree(r.folder, ignore_errors=True)
                if r.upload and r.upload not in in_use:
                    shutil.rmtree(self.uploads / r.upload, ignore_errors=True)
        for folder in self.uploads.iterdir():
            try:
                old = now - folder.stat().st_mtime > UPLOAD_TTL
            except OSError:
                continue
            if old and folder.name not in in_use:
                shutil.rmtree(folder, ignore_errors=True)

    def _reaper(self) -> None:
        while not self._closed:
            try:
                self._reap_once(time.time())
            except Exception:  # noqa: BLE001 - the reaper must keep running
                pass
            time.sleep(1.0)

    def close(self) -> None:
        """Stop every running ffmpeg (the backend is going away)."""
        self._closed = True
        with self.cond:
            runs = list(self.pipelines.values())
        for r in runs:
            if not r.done:
                self.stop(r.id)
