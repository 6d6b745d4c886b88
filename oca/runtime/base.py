"""The runtime interface every way of running a workload implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Literal

from oca.models import Service, ServiceBase

Status = Literal["running", "stopped", "missing", "unmanaged"]


class Runtime(ABC):
    name: str = ""

    @abstractmethod
    def deploy(self, spec: ServiceBase, service_id: str) -> dict[str, str]:
        """Start the workload for a new service; return its locations once it is ready."""

    def start(self, svc: Service) -> None:
        """Start a stopped workload and wait until it is ready."""

    def stop(self, svc: Service) -> None:
        """Stop the workload, keeping its data."""

    def remove(self, svc: Service, purge: bool = False) -> None:
        """Remove the workload; with `purge`, its data too."""

    def status(self, svc: Service) -> Status:
        return "unmanaged"

    def logs(self, svc: Service, follow: bool = False, tail: int = 100) -> Iterator[str]:
        return iter(())
