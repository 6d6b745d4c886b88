"""The db scope contract (upstream paths: /ping, /table, /table/{table}, /table/{table}/record)."""

from __future__ import annotations

from typing import Any

from oca.contract.base import Driver, Operation, ops


class DbDriver(Driver):
    scope = "db"
    operations = ops(
        Operation("list_tables", "GET", "/table", "List tables."),
        Operation("create_table", "POST", "/table", "Create a table.",
                  params=("name", "columns", "primary_key"), body=True, idempotent=False),
        Operation("describe_table", "GET", "/table/{table}", "Describe a table.",
                  params=("table",)),
        Operation("select", "GET", "/table/{table}/record", "Select records (DQL).",
                  params=("table", "dql")),
        Operation("insert", "POST", "/table/{table}/record", "Insert records (DML).",
                  params=("table",), body=True, idempotent=False),
        Operation("update", "PUT", "/table/{table}/record", "Update records (DML).",
                  params=("table",), body=True, idempotent=False),
        Operation("delete", "DELETE", "/table/{table}/record", "Delete records (DML).",
                  params=("table",), body=True, idempotent=False),
    )

    def list_tables(self) -> list[dict[str, Any]]:
        raise NotImplementedError


CONTRACT = DbDriver
