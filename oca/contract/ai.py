"""The ai scope contract: image classification by a model server.

Upstream's driver paths (`/ping`, `/usage`, `/serve`, `/predict`) plus `/models` and
`/unload`. Result shapes keep upstream's where it had one:

- `serve` → `{"status": "ok", "result": "model NAME loaded", "model": {...}}`
- `predict` → `{"results": [{"status": "ok", "result": TOP1_LABEL,
  "labels": [{"label", "score"}...], "model": NAME}]}` (upstream gave only `result`)
- `models` → `{"default": NAME, "models": [{"name", "loaded", "format", "input_size", ...}]}`
"""

from __future__ import annotations

from typing import Any

from oca.contract.base import Driver, Operation, ops


class AiDriver(Driver):
    scope = "ai"
    operations = ops(
        Operation("usage", "GET", "/usage", "What the backend serves, with its counters."),
        Operation("models", "GET", "/models", "Models the backend knows, loaded or not."),
        Operation("serve", "POST", "/serve",
                  "Load a model: a known name, a local .onnx/TorchScript file (path), or a "
                  "torch-hub entry (path owner/repo:ref, name, kwargs).",
                  params=("name", "path", "kwargs"), body=True),
        Operation("unload", "POST", "/unload", "Unload a model.", params=("name",), body=True),
        Operation("predict", "POST", "/predict", "Classify one image (bytes in field `img`).",
                  params=("img", "model", "top_k"), upload="img", idempotent=True),
    )

    def usage(self) -> dict[str, Any]:
        raise NotImplementedError

    def models(self) -> dict[str, Any]:
        raise NotImplementedError

    def serve(self, name: str, path: str = "", kwargs: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def unload(self, name: str) -> Any:
        raise NotImplementedError

    def predict(self, img: bytes, model: str | None = None, top_k: int = 5) -> Any:
        raise NotImplementedError


CONTRACT = AiDriver
