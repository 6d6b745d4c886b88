"""The ai scope contract (upstream paths: /ping, /usage, /serve, /predict)."""

from __future__ import annotations

from typing import Any

from oca.contract.base import Driver, Operation, ops


class AiDriver(Driver):
    scope = "ai"
    operations = ops(
        Operation("usage", "GET", "/usage", "What the backend serves."),
        Operation("serve", "POST", "/serve", "Load a model.", params=("name", "path", "kwargs"),
                  body=True),
        Operation("predict", "POST", "/predict", "Classify one image.",
                  params=("img", "model", "top_k"), upload="img", idempotent=True),
    )

    def usage(self) -> dict[str, Any]:
        raise NotImplementedError

    def serve(self, name: str, path: str = "", kwargs: dict[str, Any] | None = None) -> Any:
        raise NotImplementedError

    def predict(self, img: bytes, model: str | None = None, top_k: int = 5) -> Any:
        raise NotImplementedError


CONTRACT = AiDriver
