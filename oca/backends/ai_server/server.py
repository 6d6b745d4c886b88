"""The model server's HTTP side: a small asyncio HTTP/1.1 server (keep-alive, no framework).

Paths (upstream's torch-hub backend, plus oca's): `GET /ping`, `GET /` and `/usage`,
`GET /models`, `POST /serve` (JSON `{name, path?, kwargs?}`), `POST /unload` (`{name}`),
`POST /predict?model=M&top_k=K` with the image as the raw body, or as multipart field(s)
`img` (upstream's form; one result per file). Errors are `{"error": {type, message, hint}}`.
Decoding runs in a thread pool and inference in one dedicated thread, so the event loop only
moves bytes; concurrent predictions are batched per model (engine.Batcher).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from oca.backends.ai_server.engine import (
    MAX_BODY,
    Batcher,
    Catalogue,
    ModelError,
    decode,
    top_k,
)

VERSION = "0.1.0"
URLS = ["/", "/ping", "/usage", "/models", "/serve", "/unload", "/predict"]
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           411: "Length Required", 413: "Payload Too Large", 422: "Unprocessable Entity",
           500: "Internal Server Error", 503: "Service Unavailable"}


class App:
    def __init__(self, catalogue: Catalogue, default: str, max_batch: int = 32,
                 max_wait: float = 0.004) -> None:
        self.catalogue = catalogue
        self.default = default
        self.max_batch = max_batch
        self.max_wait = max_wait
        workers = int(os.environ.get("OCA_AI_DECODE_THREADS", "0")) or max(2, os.cpu_count() or 1)
        self.decode_pool = ThreadPoolExecutor(workers, thread_name_prefix="decode")
        self.infer_pool = ThreadPoolExecutor(1, thread_name_prefix="infer")
        self.load_pool = ThreadPoolExecutor(1, thread_name_prefix="load")
        self.batchers: dict[str, Batcher] = {}
        self.requests = 0
        self.retired = [0, 0]  # images, batches of batchers dropped by unload/reload
        self.started = time.time()

    # ------------------------------------------------------------ handlers
    async def dispatch(self, method: str, target: str, headers: dict[str, str],
                       body: bytes) -> tuple[int, Any]:
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        routes = {
            ("GET", "/ping"): self.ping, ("GET", "/"): self.usage,
            ("GET", "/usage"): self.usage, ("GET", "/models"): self.models,
            ("POST", "/serve"): self.serve, ("POST", "/unload"): self.unload,
            ("POST", "/predict"): self.predict,
        }
        handler = routes.get((method, path))
        if handler is None:
            if any(p == path for _, p in routes):
                return 405, _err("invalid_input", f"{method} not allowed on {path}")
            return 404, _err("not_found", f"no such path: {path}", hint=f"paths: {URLS}")
        try:
            return 200, await handler(query, headers, body)
        except ModelError as e:
            return e.status, _err(e.type, e.message, e.hint)

    async def ping(self, *_: Any) -> Any:
        return {"status": "ok"}

    async def usage(self, *_: Any) -> Any:
        import onnxruntime as ort

        images = self.retired[0] + sum(b.images for b in self.batchers.values())
        batches = self.retired[1] + sum(b.batches for b in self.batchers.values())
        return {
            "info": f"oca model server {VERSION} (ONNX Runtime {ort.__version__})",
            "urls": URLS,
            "default_model": self.default,
            "loaded": sorted(self.catalogue.loaded),
            "batching": {"max_batch": self.max_batch, "window_ms": self.max_wait * 1000},
            "stats": {"requests": self.requests, "images": images, "batches": batches,
                      "mean_batch": round(images / batches, 2) if batches else None,
                      "uptime_s": round(time.time() - self.started, 1)},
        }

    async def models(self, *_: Any) -> Any:
        return {"default": self.default, "models": self.catalogue.listing()}

    def _json(self, body: bytes) -> dict[str, Any]:
        if not body:
            raise ModelError("model param json not provided: send {\"name\": ...}")
        try:
            data = json.loads(body)
        except ValueError as e:
            raise ModelError(f"body is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise ModelError("body must be a JSON object")
        return data

    async def serve(self, _q: Any, _h: Any, body: bytes) -> Any:
        data = self._json(body)
        kwargs = data.get("kwargs") or {}
        if not isinstance(kwargs, dict):
            raise ModelError("kwargs must be a JSON object")
        name, path = str(data.get("name") or ""), str(data.get("path") or "")
        loop = asyncio.get_running_loop()
        model = await loop.run_in_executor(self.load_pool, self.catalogue.serve, name, path,
                                           kwargs)
        old = self.batchers.get(model.spec.name)
        if old is not None and old.model is not model:  # a reloaded model: fresh batcher
            self._retire(model.spec.name)
        return {"status": "ok", "result": f"model {model.spec.name} loaded",
                "model": model.describe()}

    async def unload(self, _q: Any, _h: Any, body: bytes) -> Any:
        name = str(self._json(body).get("name") or "")
        if not self.catalogue.unload(name):
            raise ModelError(f"model {name!r} is not loaded")
        self._retire(name)
        return {"status": "ok", "result": f"model {name} unloaded"}

    def _retire(self, name: str) -> None:
        """Drop a model's batcher (it drains what it holds), keeping its counters."""
        b = self.batchers.pop(name, None)
        if b is not None:
            self.retired[0] += b.images
            self.retired[1] += b.batches

    async def _batcher(self, name: str) -> Batcher:
        b = self.batchers.get(name)
        if b is None:
            loop = asyncio.get_running_loop()
            model = self.catalogue.loaded.get(name)
            if model is None:
                model = await loop.run_in_executor(self.load_pool, self.catalogue.get, name)
            b = self.batchers.get(name)
            if b is None:
                b = Batcher(model, self.infer_pool, self.max_batch, self.max_wait)
                self.batchers[name] = b
                b.start()
        return b

    async def predict(self, query: dict[str, str], headers: dict[str, str],
                      body: bytes) -> Any:
        name = query.get("model") or self.default
        try:
            k = int(query.get("top_k", "5"))
        except ValueError as e:
            raise ModelError(f"top_k must be an integer, got {query.get('top_k')!r}") from e
        if not 1 <= k <= 1000:
            raise ModelError(f"top_k must be between 1 and 1000, got {k}")
        ctype = headers.get("content-type", "")
        images = multipart_files(ctype, body, "img") if ctype.startswith("multipart/") else [body]
        if not images:
            raise ModelError("no image in the request (raw body or multipart field `img`)")
        batcher = await self._batcher(name)
        spec = batcher.model.spec
        loop = asyncio.get_running_loop()
        self.requests += 1

        async def one(data: bytes) -> dict[str, Any]:
            batcher.incoming += 1
            try:
                arr = await loop.run_in_executor(self.decode_pool, decode, data, spec.size,
                                                 spec.resize, spec.mean, spec.std)
            finally:
                batcher.incoming -= 1
            logits = await batcher.submit(arr)
            labels = top_k(logits, batcher.model.labels, k)
            return {"status": "ok", "result": labels[0]["label"], "labels": labels,
                    "model": spec.name}

        if len(images) == 1:
            return {"results": [await one(images[0])]}
        outs = await asyncio.gather(*(one(d) for d in images), return_exceptions=True)
        results = []
        for o in outs:
            if isinstance(o, ModelError):
                results.append({"status": "failed", "result": o.message,
                                "error": {"type": o.type, "message": o.message, "hint": o.hint}})
            elif isinstance(o, BaseException):
                raise o
            else:
                results.append(o)
        return {"results": results}

    # ------------------------------------------------------------ HTTP
    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                try:
                    method, target, version = line.decode("latin-1").split()
                except ValueError:
                    await self._send(writer, 400, _err("invalid_input", "bad request line"),
                                     close=True)
                    break
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    await self._send(writer, 411, _err("invalid_input",
                                                       "chunked bodies are not supported: "
                                                       "send Content-Length"), close=True)
                    break
                try:
                    length = int(headers.get("content-length", "0"))
                except ValueError:
                    length = -1
                if length < 0 or length > MAX_BODY:
                    await self._send(writer, 413, _err(
                        "invalid_input", f"body too large or invalid length: the limit is "
                        f"{MAX_BODY // (1024 * 1024)} MiB"), close=True)
                    break
                body = await reader.readexactly(length) if length else b""
                keep = (version == "HTTP/1.1"
                        and headers.get("connection", "").lower() != "close")
                try:
                    status, payload = await self.dispatch(method.upper(), target, headers, body)
                except Exception as e:  # noqa: BLE001 - the server stays up
                    status, payload = 500, _err("internal", f"{type(e).__name__}: {e}")
                await self._send(writer, status, payload, close=not keep)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def _send(self, writer: asyncio.StreamWriter, status: int, payload: Any,
                    close: bool = False) -> None:
        data = json.dumps(payload, separators=(",", ":")).encode()
        head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
                f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n")
        writer.write(head.encode("latin-1") + data)
        await writer.drain()


def _err(type_: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message, "hint": hint}}


def multipart_files(content_type: str, body: bytes, field: str) -> list[bytes]:
    """The file parts named `field` of a multipart/form-data body."""
    from email.parser import BytesParser
    from email.policy import HTTP

    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise ModelError("malformed multipart body")
    out = []
    for part in msg.iter_parts():
        if part.get_param("name", header="content-disposition") == field:
            out.append(part.get_payload(decode=True) or b"")
    return out


def default_model_dirs(extra: list[str]) -> list[Path]:
    dirs = [Path(d) for d in extra]
    env = os.environ.get("OCA_MODEL_CACHE")
    dirs.append(Path(env).expanduser() if env else Path.home() / ".cache" / "oca" / "models")
    return dirs


async def serve_forever(host: str, port: int, app: App) -> None:
    server = await asyncio.start_server(app.handle, host, port, reuse_address=True,
                                        limit=1 << 16, backlog=256)
    sys.stdout.write(f"oca model server listening on {host}:{port}, default model "
                     f"{app.default}\n")
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    import argparse
    import signal

    p = argparse.ArgumentParser(prog="python -m oca.backends.ai_server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8500)
    p.add_argument("--data", default=".", help="work folder (converted models)")
    p.add_argument("--model-dir", action="append", default=[],
                   help="folder of .onnx models (+ .json sidecars); repeatable")
    p.add_argument("--default-model", default="efficientnet-lite0")
    p.add_argument("--max-batch", type=int, default=32)
    p.add_argument("--max-wait-ms", type=float, default=4.0)
    args = p.parse_args(argv)

    t0 = time.monotonic()
    dirs = default_model_dirs(args.model_dir)
    catalogue = Catalogue(dirs, Path(args.data))
    if args.default_model not in catalogue.known():
        try:  # the local runtime on a machine that never exported: do it once, now
            from oca.ai_model import ensure_exported

            ensure_exported(dirs[-1])
        except Exception as e:  # noqa: BLE001
            sys.stderr.write(f"warning: default model unavailable: {e}\n")
    if args.default_model in catalogue.known():
        catalogue.get(args.default_model)  # warm: /ping answers only once it is loaded
    app = App(catalogue, args.default_model, args.max_batch, args.max_wait_ms / 1000)
    sys.stdout.write(f"ready in {time.monotonic() - t0:.2f} s\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(serve_forever(args.host, args.port, app))
    except KeyboardInterrupt:
        pass
