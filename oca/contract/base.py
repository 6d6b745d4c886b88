"""What every driver is: operations declared as data, and the class python drivers extend.

A scope contract (ai, db, media) subclasses `Driver`, declares its `operations` and leaves
the methods abstract; a backend's driver implements them. The same declaration gives the
REST contract (method + path on the driver, upstream's paths), `oca driver show`, and the
HTTP transport's request shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Operation:
    """One function of a scope contract.

    `path` is the driver-side path (upstream's: `/ping`, `/predict`, `/table/{table}`...);
    its `{placeholders}` are filled from keyword arguments of the same name. For GET and
    DELETE without `body`, the remaining arguments travel as query parameters; otherwise
    as a JSON body. `upload` names an argument sent as a multipart file field `img`.
    """

    name: str
    method: str
    path: str
    summary: str
    params: tuple[str, ...] = ()
    body: bool = False
    upload: str | None = None
    idempotent: bool = True
    options: dict[str, str] = field(default_factory=dict)


PING = Operation("ping", "GET", "/ping", "Check that the driver reaches its backend.")


class Driver:
    """Base of python drivers. One instance serves one service (its hosts and meta)."""

    scope: ClassVar[str] = ""
    operations: ClassVar[dict[str, Operation]] = {"ping": PING}
    #: What this driver supports beyond the contract's minimum, shown by `oca driver show`.
    capabilities: ClassVar[dict[str, Any]] = {}
    #: Seconds one backend call may take; oca sets it from the service's `timeout`.
    timeout: float = 30.0

    def __init__(self, hosts: list[str], meta: dict[str, Any]) -> None:
        self.hosts = hosts
        self.meta = meta

    def ping(self) -> dict[str, Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; called when the service changes or the process ends."""


def ops(*operations: Operation) -> dict[str, Operation]:
    return {"ping": PING, **{op.name: op for op in operations}}
