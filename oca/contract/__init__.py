"""Scope contracts: the function set of each segment, as Python classes and as REST paths.

`oca.contract.<scope>` defines `CONTRACT`, the abstract driver class of that scope.
"""

from __future__ import annotations

import importlib

from oca.contract.base import Driver
from oca.errors import BadInput
from oca.models import SCOPES


def scope_contract(scope: str) -> type[Driver]:
    if scope not in SCOPES:
        raise BadInput(f"unknown scope {scope!r}: expected one of {', '.join(SCOPES)}")
    return importlib.import_module(f"oca.contract.{scope}").CONTRACT
