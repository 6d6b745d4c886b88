"""The media scope contract (upstream paths: /ping, /probe, /pipeline, /pipeline/{pipeline_id})."""

from __future__ import annotations

from oca.contract.base import Driver, Operation, ops


class MediaDriver(Driver):
    scope = "media"
    operations = ops(
        Operation("probe", "POST", "/probe", "ffprobe a source.", params=("source", "params"),
                  body=True),
        Operation("create_pipeline", "POST", "/pipeline", "Start a pipeline.", body=True,
                  idempotent=False),
        Operation("pipeline_status", "GET", "/pipeline/{pipeline_id}", "Status of a pipeline.",
                  params=("pipeline_id",)),
        Operation("stop_pipeline", "DELETE", "/pipeline/{pipeline_id}", "Stop a pipeline.",
                  params=("pipeline_id",)),
    )


CONTRACT = MediaDriver
