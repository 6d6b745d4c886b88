"""Top-level commands beside the groups: up, down, doctor."""

from __future__ import annotations

from oca.cli.common import group

app = group()
