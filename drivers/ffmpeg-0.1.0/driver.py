"""The media driver for oca's ffmpeg backend: in-process, HTTP (stdlib) to the backend.

The backend speaks upstream mers-ffmpeg's paths and JSON, so this is mostly a pass-through;
it adds streamed uploads of local files and downloads of finished outputs.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from oca.contract.media import MediaDriver
from oca.errors import (
    BackendUnreachable,
    BadInput,
    Timeout,
    Unavailable,
    error_from_body,
)


class FfmpegDriver(MediaDriver):
    capabilities = {"upload": True, "download": True, "long_poll": True,
                    "streams": ["mpegts/udp", "flv/rtmp"], "storage": False}

    def __init__(self, hosts: list[str], meta: dict[str, Any]) -> None:
        super().__init__(hosts, meta)
        if not hosts:
            raise BadInput("the ffmpeg driver needs the backend's HOST:PORT in locations")
        host, _, port = hosts[0].rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        self.timeout = float(meta.get("timeout", 60.0)) if meta else 60.0

    def _conn(self, timeout: float) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def _raise(self, status: int, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        typed = error_from_body(data)
        if typed is not None:
            detail = data.get("description")
            typed.detail = None if detail == typed.message else detail
            raise typed
        text = body.decode(errors="replace")[:300]
        if status < 500:
            raise BadInput(f"media backend refused the request: {text}")
        raise Unavailable(f"media backend failed: {text}")

    def _request(self, method: str, path: str, body: Any = None, timeout: float | None = None,
                 raw: Any = None, length: int | None = None) -> Any:
        conn = self._conn(timeout or self.timeout)
        headers: dict[str, str] = {}
        payload: Any = None
        if raw is not None:
            payload = raw
            headers["Content-Type"] = "application/octet-stream"
            headers["Content-Length"] = str(length)
        elif body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=payload, headers=headers)
            r = conn.getresponse()
            data = r.read()
        except TimeoutError as e:
            raise Timeout(f"media backend {self.host}:{self.port} did not answer "
                          f"{method} {path} in time") from e
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            raise BackendUnreachable(
                f"media backend {self.host}:{self.port} is unreachable: {e}",
                hint="check it with `oca service ping`") from e
        finally:
            conn.close()
        if r.status >= 400:
            self._raise(r.status, data)
        return json.loads(data) if data else None

    def ping(self) -> dict[str, Any]:
        return self._request("GET", "/ping", timeout=10)

    def probe(self, source: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._request("POST", "/probe", {"source": source, "params": params})

    def create_pipeline(self, input_file: dict[str, Any], outputs: list[dict[str, Any]],
                        ttl: int | None = 300) -> dict[str, Any]:
        body = {"input_file": input_file, "outputs": outputs, "ttl": ttl}
        return self._request("POST", "/pipeline", body)

    def list_pipelines(self) -> list[dict[str, Any]]:
        return self._request("GET", "/pipeline")

    def pipeline_status(self, pipeline_id: str, wait: float | None = None
                        ) -> list[dict[str, Any]]:
        path = f"/pipeline/{quote(pipeline_id, safe='')}"
        if wait:
            path += "?" + urlencode({"wait": wait})
        return self._request("GET", path, timeout=(wait or 0) + self.timeout)

    def stop_pipeline(self, pipeline_id: str) -> list[dict[str, Any]]:
        return self._request("DELETE", f"/pipeline/{quote(pipeline_id, safe='')}")

    def upload(self, file: str | bytes, name: str) -> dict[str, Any]:
        path = "/upload?" + urlencode({"name": name})
        if isinstance(file, bytes):
            return self._request("POST", path, raw=file, length=len(file))
        size = os.path.getsize(file)
        with open(file, "rb") as f:
            return self._request("POST", path, raw=f, length=size,
                                 timeout=max(self.timeout, size / 20e6))

    def download_output(self, pipeline_id: str, output_id: str, dest: str) -> dict[str, Any]:
        path = f"/pipeline/{quote(pipeline_id, safe='')}/output/{quote(output_id, safe='')}"
        conn = self._conn(self.timeout)
        tmp = Path(dest + ".part")
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            if r.status >= 400:
                self._raise(r.status, r.read())
            with open(tmp, "wb") as f:
                shutil.copyfileobj(r, f, 1 << 20)
            tmp.replace(dest)
        except (ConnectionError, OSError, http.client.HTTPException) as e:
            tmp.unlink(missing_ok=True)
            raise BackendUnreachable(f"download of {output_id} failed: {e}") from e
        finally:
            conn.close()
        return {"path": dest, "size": os.path.getsize(dest)}
