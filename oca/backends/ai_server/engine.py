"""Models, image decoding and batched inference of the model server (no HTTP here).

Imports only numpy, Pillow and ONNX Runtime (torch only when a model must be converted), so
the same code serves in a torch-free image and gives `bench/ai.py` its raw baseline.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parent
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Decompression-bomb guard: images claiming more pixels are refused before decoding.
MAX_PIXELS = int(os.environ.get("OCA_AI_MAX_PIXELS", str(64_000_000)))
MAX_BODY = int(os.environ.get("OCA_AI_MAX_BYTES", str(64 * 1024 * 1024)))
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class ModelError(Exception):
    """A request the server refuses: mapped to an HTTP status and oca's error shape."""

    status = 422
    type = "invalid_input"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class LoadFailed(ModelError):
    status = 503
    type = "unavailable"


_labels: list[str] | None = None


def imagenet_labels() -> list[str]:
    global _labels
    if _labels is None:
        rows = json.loads((DATA / "imagenet_classes.json").read_text())["classes"]
        _labels = [r[1] for r in rows]
    return _labels


@dataclass
class ModelSpec:
    """What a model is and how its input is prepared."""

    name: str
    file: str
    size: int = 224
    resize: int = 256
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    labels: str = "imagenet"
    source: str = ""

    @classmethod
    def from_sidecar(cls, onnx_file: Path) -> ModelSpec:
        side = onnx_file.with_suffix(".json")
        raw: dict[str, Any] = json.loads(side.read_text()) if side.is_file() else {}
        known = {k: raw[k] for k in ("size", "resize", "mean", "std", "labels", "source")
                 if k in raw}
        return cls(name=raw.get("name", onnx_file.stem), file=str(onnx_file), **known)


# ---------------------------------------------------------------- decoding

def decode(data: bytes, size: int = 224, resize: int = 256, mean: list[float] | None = None,
           std: list[float] | None = None) -> np.ndarray:
    """Image bytes → a normalised CHW float32 array (resize short side, centre crop).

    The size check happens on the header, before any pixel is decoded; JPEGs are decoded
    at a reduced DCT scale when the target is much smaller (PIL's draft mode).
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ModelError("empty image: no bytes received")
    Image.MAX_IMAGE_PIXELS = None  # our own guard below gives the clearer message
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as e:
        raise ModelError("not an image: the data is in no format Pillow can read "
                         "(JPEG, PNG, GIF, WebP, BMP, TIFF...)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ModelError(f"unreadable image: {e}") from e
    w, h = im.size
    if w * h > MAX_PIXELS or w <= 0 or h <= 0:
        raise ModelError(
            f"image too large: {w}x{h} = {w * h / 1e6:.0f} Mpx, the limit is "
            f"{MAX_PIXELS / 1e6:.0f} Mpx (decompression-bomb guard)",
            hint="downscale the image first",
        )
    orientation, fmt = _orientation(im), im.format
    try:
        scale = resize / min(w, h)
        if fmt == "JPEG":
            im.draft("RGB", (max(resize, round(w * scale)), max(resize, round(h * scale))))
        if im.mode != "RGB":
            im = im.convert("RGB")
        else:
            im.load()
        if orientation in _TRANSPOSE:  # camera photos: upright as a viewer shows them
            im = im.transpose(_TRANSPOSE[orientation])
        w2, h2 = im.size  # draft may have shrunk it
        s2 = resize / min(w2, h2)
        crop = size / s2
        left, top = (w2 - crop) / 2, (h2 - crop) / 2
        im = im.resize((size, size), Image.Resampling.BILINEAR,
                       box=(left, top, left + crop, top + crop))
        arr = np.asarray(im, dtype=np.float32)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        msg = str(e) or type(e).__name__
        raise ModelError(f"broken image ({fmt or 'unknown format'}): {msg}",
                         hint="the file may be truncated or corrupt") from e
    m = np.asarray(mean or IMAGENET_MEAN, dtype=np.float32) * 255.0
    inv = 1.0 / (np.asarray(std or IMAGENET_STD, dtype=np.float32) * 255.0)
    return np.ascontiguousarray(((arr - m) * inv).transpose(2, 0, 1))


_TRANSPOSE = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}  # EXIF orientation → Image.Transpose


def _orientation(im: Any) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - broken EXIF is not a reason to refuse the image
        return 1


def top_k(logits: np.ndarray, labels: list[str], k: int) -> list[dict[str, Any]]:
    z = logits.astype(np.float64) - float(logits.max())
    p = np.exp(z)
    p /= p.sum()
    k = max(1, min(k, p.shape[0]))
    idx = np.argpartition(-p, k - 1)[:k]
    idx = idx[np.argsort(-p[idx])]
    return [{"label": labels[i] if i < len(labels) else str(int(i)),
             "score": round(float(p[i]), 6)} for i in idx]


# ---------------------------------------------------------------- models

def session_options() -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = int(os.environ.get("OCA_AI_THREADS", "0")) or (os.cpu_count() or 1)
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads must not spin: decoding shares the same few cores.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return so


class LoadedModel:
    def __init__(self, spec: ModelSpec) -> None:
        import onnxruntime as ort

        t0 = time.monotonic()
        self.spec = spec
        self.session = ort.InferenceSession(spec.file, session_options(),
                                            providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.labels = imagenet_labels() if spec.labels == "imagenet" else []
        self.load_seconds = round(time.monotonic() - t0, 3)
        self.lock = threading.Lock()

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]

    def describe(self) -> dict[str, Any]:
        return {"name": self.spec.name, "loaded": True, "format": "onnx",
                "runtime": "onnxruntime", "input_size": self.spec.size,
                "classes": len(self.labels) or None, "source": self.spec.source or self.spec.file,
                "load_seconds": self.load_seconds}


def torch_to_onnx(module: Any, out: Path, size: int) -> Path:
    """Export a torch module to ONNX (used for torch-hub, TorchScript and state-dict models)."""
    import warnings

    import torch

    module.eval()
    tmp = out.with_name(f".{out.name}.{os.getpid()}")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, 3, size, size),), str(tmp),
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          opset_version=17, dynamo=False)
    os.replace(tmp, out)
    return out


class Catalogue:
    """Known models (on disk) and loaded ones (ONNX Runtime sessions)."""

    def __init__(self, model_dirs: list[Path], work_dir: Path) -> None:
        self.model_dirs = [d for d in model_dirs if d]
        self.work_dir = work_dir
        self.loaded: dict[str, LoadedModel] = {}
        self.extra: dict[str, ModelSpec] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def known(self) -> dict[str, ModelSpec]:
        specs: dict[str, ModelSpec] = {}
        for d in self.model_dirs:
            if d.is_dir():
                for f in sorted(d.glob("*.onnx")):
                    if not f.name.startswith("."):
                        spec = ModelSpec.from_sidecar(f)
                        specs.setdefault(spec.name, spec)
        specs.update(self.extra)
        return specs

    def listing(self) -> list[dict[str, Any]]:
        out = []
        for name, spec in sorted(self.known().items()):
            if name in self.loaded:
                out.append(self.loaded[name].describe())
            else:
                out.append({"name": name, "loaded": False, "format": "onnx",
                            "input_size": spec.size, "source": spec.source or spec.file})
        return out

    def _lock(self, name: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(name, threading.Lock())

    def get(self, name: str) -> LoadedModel:
        """A loaded model; a known but unloaded one is loaded on first use."""
        model = self.loaded.get(name)
        if model is not None:
            return model
        spec = self.known().get(name)
        if spec is None:
            raise ModelError(f"unknown model {name!r}",
                            hint=f"known models: {', '.join(sorted(self.known())) or 'none'}; "
                                 "load another with `oca ai load`")
        return self._load_spec(spec)

    def _load_spec(self, spec: ModelSpec) -> LoadedModel:
        with self._lock(spec.name):
            if spec.name not in self.loaded:
                try:
                    self.loaded[spec.name] = LoadedModel(spec)
                except Exception as e:  # noqa: BLE001 - ORT raises its own types
                    raise ModelError(
                        f"cannot load model {spec.name!r} from {spec.file}: {e}") from e
            return self.loaded[spec.name]

    def unload(self, name: str) -> bool:
        with self._lock(name):
            return self.loaded.pop(name, None) is not None

    def serve(self, name: str, path: str = "", kwargs: dict[str, Any] | None = None) -> LoadedModel:
        """Load a model: a known name, a local .onnx / TorchScript / state-dict file, or a
        torch-hub entry (`path` = "owner/repo[:ref]", `name` = the hub function)."""
        kwargs = dict(kwargs or {})
        if not name and path:
            name = Path(path).stem
        if not name or not NAME_RE.match(name):
            raise ModelError(f"invalid model name {name!r}: use 1-64 letters, digits, "
                             "'_', '.' or '-'")
        if not path:
            return self.get(name)
        prep = {k: kwargs.pop(k) for k in ("size", "resize", "mean", "std") if k in kwargs}
        labels = str(kwargs.pop("labels", "imagenet"))
        local = Path(path).expanduser()
        if local.is_file():
            if local.suffix == ".onnx":
                onnx_file = local
            elif local.suffix in (".pt", ".pth", ".ts", ".torchscript"):
                onnx_file = self._from_torch_file(name, local, kwargs, int(prep.get("size", 224)))
            else:
                raise ModelError(f"unsupported model file {local.name}: expected .onnx, "
                                 "a TorchScript .pt or a state-dict .pth")
        elif re.match(r"^[\w.-]+/[\w.-]+(:[\w.-]+)?$", path):
            onnx_file = self._from_hub(name, path, kwargs, int(prep.get("size", 224)))
        else:
            raise ModelError(f"model path not found: {path}",
                             hint="give a local .onnx/.pt file or a torch-hub repo owner/name:ref")
        spec = ModelSpec(name=name, file=str(onnx_file), labels=labels, source=path, **prep)
        self.unload(name)
        model = self._load_spec(spec)
        self.extra[name] = spec
        return model

    def _converted(self, name: str) -> Path:
        d = self.work_dir / "models"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{name}.onnx"

    def _need_torch(self, what: str) -> Any:
        try:
            import torch
        except ImportError as e:
            raise ModelError(f"loading {what} needs torch, which this server does not have",
                             hint="export the model to .onnx and load that file instead") from e
        return torch

    def _from_torch_file(self, name: str, file: Path, kwargs: dict[str, Any], size: int) -> Path:
        torch = self._need_torch(f"{file.name}")
        try:
            module = torch.jit.load(str(file), map_location="cpu")
        except Exception:  # noqa: BLE001 - not TorchScript: try a state dict
            arch = kwargs.get("arch")
            if not arch:
                raise ModelError(f"{file.name} is not TorchScript; for a state dict pass "
                                 'kwargs {"arch": "efficientnet-lite0"} (or another '
                                 "efficientnet-lite architecture)") from None
            try:
                from efficientnet_lite_pytorch import EfficientNet

                module = EfficientNet.from_name(str(arch))
                module.load_state_dict(torch.load(str(file), map_location="cpu"))
            except Exception as e:  # noqa: BLE001
                raise ModelError(f"cannot load state dict {file.name} as {arch}: {e}") from e
        return torch_to_onnx(module, self._converted(name), size)

    def _from_hub(self, name: str, repo: str, kwargs: dict[str, Any], size: int) -> Path:
        torch = self._need_torch(f"torch-hub model {repo}")
        kwargs.setdefault("pretrained", True)
        try:
            module = torch.hub.load(repo, name, **kwargs)
        except Exception as e:  # noqa: BLE001 - network, unknown entry point...
            raise LoadFailed(f"cannot load {name} from torch hub {repo}: {e}",
                             hint="torch hub needs network access; load a local file") from e
        return torch_to_onnx(module, self._converted(name), size)


# ---------------------------------------------------------------- batching

class Batcher:
    """Groups concurrent requests for one model into batches.

    The window is adaptive: a batch waits (at most `max_wait`) only while other requests
    are known to be on their way (being decoded); a lone request runs at once.
    """

    def __init__(self, model: LoadedModel, executor: ThreadPoolExecutor, max_batch: int = 32,
                 max_wait: float = 0.004) -> None:
        self.model = model
        self.executor = executor
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[np.ndarray]]] = (
            asyncio.Queue())
        self.incoming = 0  # requests decoding right now
        self.batches = 0
        self.images = 0
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._loop())

    async def submit(self, arr: np.ndarray) -> np.ndarray:
        fut: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self.queue.put((arr, fut))
        return await fut

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self.queue.get()]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                try:
                    batch.append(self.queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                left = deadline - loop.time()
                if self.incoming <= 0 or left <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self.queue.get(), left))
                except TimeoutError:
                    break
            batch = [b for b in batch if not b[1].done()]
            if not batch:
                continue
            try:
                x = np.stack([a for a, _ in batch])
                logits = await loop.run_in_executor(self.executor, self.model.run, x)
            except Exception as e:  # noqa: BLE001 - every waiter gets the failure
                for _, f in batch:
                    if not f.done():
                        f.set_exception(e)
                continue
            self.batches += 1
            self.images += len(batch)
            for (_, f), row in zip(batch, logits, strict=True):
                if not f.done():
                    f.set_result(row)
