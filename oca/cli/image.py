"""`oca image ...` (filled in by its issue)."""

from __future__ import annotations

from oca.cli.common import group

app = group()
