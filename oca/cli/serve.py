"""Top-level commands beside the groups: serve, worker, launch."""

from __future__ import annotations

from oca.cli.common import group

app = group()
