"""An ai driver that answers without a model: the echo template of the ai scope.

It runs as is and passes `oca driver test`: `predict` checks that it got an image and labels
it by its format and a digest of its bytes. To serve a real model, replace the bodies below with
calls to your model server (see README.md).
"""

from __future__ import annotations

import hashlib
from typing import Any

from oca.contract.ai import AiDriver
from oca.errors import BadInput, NotFound

#: File signatures of the image formats accepted.
_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg", b"GIF8": "gif",
               b"BM": "bmp", b"RIFF": "webp"}
MODELS = ["echo"]


def image_format(img: bytes) -> str:
    for sig, fmt in _SIGNATURES.items():
        if img.startswith(sig):
            return fmt
    raise BadInput("the upload is not an image (png, jpeg, gif, bmp or webp)")


class EchoAiDriver(AiDriver):
    """Labels images by a digest of their bytes; no backend."""

    def __init__(self, hosts: list[str], meta: dict[str, Any]) -> None:
        super().__init__(hosts, meta)
        # TODO: open a client to your model server here (self.hosts: ["host:port", ...]).
        self.loaded: set[str] = set()
        self.predictions = 0

    def ping(self) -> dict[str, Any]:
        # TODO: a real round trip to the model server.
        return {"status": "ok", "backend": "echo", "hosts": self.hosts}

    def usage(self) -> dict[str, Any]:
        return {"info": "echo ai driver (no model)", "urls": [op.path for op in
                                                              self.operations.values()],
                "predictions": self.predictions}

    def models(self) -> dict[str, Any]:
        return {"default": MODELS[0],
                "models": [{"name": m, "loaded": m in self.loaded} for m in MODELS]}

    def serve(self, name: str, path: str = "", kwargs: dict[str, Any] | None = None) -> Any:
        self._known(name)
        self.loaded.add(name)
        return {"status": "ok", "result": f"model {name} loaded", "model": {"name": name}}

    def unload(self, name: str) -> Any:
        self._known(name)
        self.loaded.discard(name)
        return {"status": "ok", "result": f"model {name} unloaded"}

    def _known(self, name: str) -> None:
        if name not in MODELS:
            raise NotFound(f"model not found: {name}", hint=f"models: {', '.join(MODELS)}")

    def predict(self, img: bytes, model: str | None = None, top_k: int = 5) -> Any:
        name = model or MODELS[0]
        self._known(name)
        if not isinstance(img, bytes | bytearray) or not img:
            raise BadInput("predict needs the image bytes")
        fmt = image_format(bytes(img))
        digest = hashlib.sha256(img).hexdigest()
        labels = [{"label": f"echo-{fmt}", "score": 1.0},
                  {"label": f"sha256-{digest[:12]}", "score": 0.0}][: max(1, int(top_k))]
        self.predictions += 1
        return {"results": [{"status": "ok", "result": labels[0]["label"], "labels": labels,
                             "model": name}]}
