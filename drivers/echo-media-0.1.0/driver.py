"""A media driver that transcodes nothing: the echo template of the media scope.

It runs as is and passes `oca driver test`: uploads are kept in memory, `probe` reports the
source's size, and every pipeline output is `finished` at once. To drive a real media
backend, replace the bodies below with calls to it (see README.md).
"""

from __future__ import annotations

import secrets
import string
import time
from pathlib import Path
from typing import Any

from oca.contract.media import MediaDriver, Pipeline
from oca.errors import BadInput, NotFound


class EchoMediaDriver(MediaDriver):
    """Pipelines that finish at once; no backend."""

    def __init__(self, hosts: list[str], meta: dict[str, Any]) -> None:
        super().__init__(hosts, meta)
        # TODO: open a client to your media backend here (self.hosts: ["host:port", ...]).
        self.files: dict[str, bytes] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}

    def ping(self) -> dict[str, Any]:
        # TODO: a real round trip to the backend.
        return {"status": "ok", "backend": "echo", "hosts": self.hosts}

    def upload(self, file: str | bytes, name: str) -> dict[str, Any]:
        data = Path(file).read_bytes() if isinstance(file, str) else bytes(file)
        source = f"echo://{Path(name).name or 'upload'}"
        self.files[source] = data
        return {"source": source, "size": len(data)}

    def probe(self, source: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        size = len(self.files.get(source, b""))
        return {"streams": [], "format": {"filename": source, "format_name": "echo",
                                          "size": str(size), "nb_streams": 0}}

    def create_pipeline(self, input_file: dict[str, Any], outputs: list[dict[str, Any]],
                        ttl: int | None = 300) -> dict[str, Any]:
        from oca.models import parse

        p: Pipeline = parse(Pipeline, {"input_file": input_file, "outputs": outputs,
                                       "ttl": ttl}, "pipeline")
        pid = "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))
        now = time.time()
        statuses = []
        for i, out in enumerate(p.outputs):
            oid = f"{pid}_{i}"
            statuses.append({"id": oid, "command": f"echo {p.input_file.source}",
                             "status": "finished", "command_output": [], "command_retcode": 0,
                             "target": f"{oid}.{out.container}", "progress": 1.0,
                             "started_at": now, "finished_at": now})
        self.pipelines[pid] = {"id": pid, "status": "finished", "source": p.input_file.source,
                               "created_at": now, "ttl": p.ttl, "outputs": statuses}
        return {"id": pid, "outputs": [s["target"] for s in statuses]}

    def _pipeline(self, pipeline_id: str) -> dict[str, Any]:
        if pipeline_id not in self.pipelines:
            raise NotFound(f"pipeline not found: {pipeline_id}")
        return self.pipelines[pipeline_id]

    def list_pipelines(self) -> list[dict[str, Any]]:
        return list(self.pipelines.values())

    def pipeline_status(self, pipeline_id: str, wait: float | None = None) -> list[dict[str, Any]]:
        return self._pipeline(pipeline_id)["outputs"]

    def stop_pipeline(self, pipeline_id: str) -> list[dict[str, Any]]:
        return self._pipeline(pipeline_id)["outputs"]  # finished outputs stay finished

    def download_output(self, pipeline_id: str, output_id: str, dest: str) -> dict[str, Any]:
        p = self._pipeline(pipeline_id)
        if output_id not in {o["id"] for o in p["outputs"]}:
            raise NotFound(f"output not found: {output_id}")
        data = self.files.get(p["source"], b"")
        target = Path(dest)
        if not target.parent.is_dir():
            raise BadInput(f"no folder {target.parent}")
        target.write_bytes(data)
        return {"path": str(target), "size": len(data)}
