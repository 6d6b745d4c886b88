"""A db driver with no backend: ping answers, listings are empty."""

from typing import Any

from oca.contract.db import DbDriver


class EchoDbDriver(DbDriver):
    def ping(self) -> dict[str, Any]:
        return {"status": "ok", "driver": "echo-db", "hosts": self.hosts}

    def list_tables(self) -> list[dict[str, Any]]:
        return []
