"""The media scope contract (upstream paths: /ping, /probe, /pipeline, /pipeline/{pipeline_id}).

The JSON shapes are upstream's (mers-ffmpeg): an `InputFile` and a `Pipeline` of outputs, each
with per-channel codec, params and filters; `OutputStatus` per output. oca adds a few fields
(marked below) and never changes the meaning of upstream's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from oca.contract.base import Driver, Operation, ops

#: An ffmpeg option value: upstream renders `null` as a bare flag (`{"vn": null}` → `-vn`).
OptionValue = str | int | float | bool | None
Options = dict[str, OptionValue]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputFile(_Model):
    """A source: a URL (http, https, rtmp, rtsp), an uploaded file, or a path in an allowed root."""

    source: str = Field(min_length=1, max_length=4096)
    params: Options | None = None


class Channel(_Model):
    """One stream's settings: `stream_type` video|audio|subtitle (others merge params only)."""

    stream_type: str
    codec: str | None = None
    params: Options | None = None
    codec_params: Options | None = None
    #: filter name → options: an object (named), a list (positional), a scalar, or `{}`.
    filters: dict[str, Any] | None = None


class Storage(_Model):
    name: Literal["gcp", "aws", "azure"]
    bucket: str
    env: dict[str, str] = Field(default_factory=dict)


class Output(_Model):
    """One output: a file `<id>.<container>`, an mpegts UDP stream, or an RTMP push (flv)."""

    container: str = Field(min_length=1, max_length=32)
    rtmp_ip: str | None = None
    rtmp_path: str | None = None
    #: oca: where an `mpegts` output is sent (upstream: the gateway and a random port).
    udp_ip: str | None = None
    udp_port: int | None = Field(default=None, gt=0, lt=65536)
    params: Options | None = None
    channels: list[Channel] | None = None
    #: Upstream's cloud upload; refused by oca's backend (credentials in a pipeline are unsafe).
    storage: list[Storage] | None = None


class Pipeline(_Model):
    input_file: InputFile
    outputs: list[Output]
    #: Seconds finished outputs are kept; `null` keeps them until stopped/removed.
    ttl: int | None = Field(default=300, ge=0)


OutputState = Literal["created", "running", "finished", "error", "stopped"]


class OutputStatus(BaseModel):
    """Upstream's fields (id, command, status, command_output, command_retcode) plus oca's."""

    id: str
    command: str
    status: OutputState
    command_output: list[str] | None = None
    command_retcode: int | None = None
    # oca additions
    target: str = ""
    file: str | None = None
    progress: float | None = None
    out_time: float | None = None
    duration: float | None = None
    size: int | None = None
    pid: int | None = None
    started_at: float | None = None
    finished_at: float | None = None


class PipelineInfo(BaseModel):
    """One line of `GET /pipeline` (oca addition)."""

    id: str
    status: OutputState
    source: str
    created_at: float
    ttl: int | None
    outputs: list[OutputStatus]


class MediaDriver(Driver):
    scope = "media"
    operations = ops(
        Operation("probe", "POST", "/probe", "ffprobe a source (streams and format).",
                  params=("source", "params"), body=True),
        Operation("create_pipeline", "POST", "/pipeline",
                  "Start a pipeline: one ffmpeg process per output.",
                  params=("input_file", "outputs", "ttl"), body=True, idempotent=False),
        Operation("list_pipelines", "GET", "/pipeline", "Pipelines the backend knows."),
        Operation("pipeline_status", "GET", "/pipeline/{pipeline_id}",
                  "Status of each output; `wait` long-polls up to that many seconds.",
                  params=("pipeline_id", "wait")),
        Operation("stop_pipeline", "DELETE", "/pipeline/{pipeline_id}",
                  "Stop every output of a pipeline.", params=("pipeline_id",)),
        Operation("upload", "POST", "/upload",
                  "Send a local file to the backend; returns the source to use.",
                  params=("file", "name"), upload="file", idempotent=False),
        Operation("download_output", "GET", "/pipeline/{pipeline_id}/output/{output_id}",
                  "Copy a finished output file to a local path.",
                  params=("pipeline_id", "output_id", "dest")),
    )

    def probe(self, source: str, params: Options | None = None) -> dict[str, Any]:
        raise NotImplementedError

    def create_pipeline(self, input_file: dict[str, Any], outputs: list[dict[str, Any]],
                        ttl: int | None = 300) -> dict[str, Any]:
        raise NotImplementedError

    def list_pipelines(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def pipeline_status(self, pipeline_id: str, wait: float | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    def stop_pipeline(self, pipeline_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def upload(self, file: str | bytes, name: str) -> dict[str, Any]:
        """`file` is a local path (streamed) or the bytes; returns `{"source": ...}`."""
        raise NotImplementedError

    def download_output(self, pipeline_id: str, output_id: str, dest: str) -> dict[str, Any]:
        raise NotImplementedError


CONTRACT = MediaDriver
