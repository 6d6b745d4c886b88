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

    def health(self, svc: Service) -> bool:
        """One real protocol check of the backend (used by `ping` when there is no driver)."""
        from oca.net import health_check, split_hostport

        kind = "tcp"
        if svc.recipe:
            from oca.recipes import get_recipe

            kind = get_recipe(svc.recipe).health
        hosts = [h for h in svc.hosts() if ":" in h]
        return any(health_check(kind, *split_hostport(h)) for h in hosts)
