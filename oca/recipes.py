"""Backend recipes: `compose/<name>/` holds a compose file, its build context and `recipe.json`.

`recipe.json` says what the backend is (scope, app, app_version), which container port it
serves, how readiness is checked (`health`: `http:/path`, `tcp`, `redis`, `postgres`) and,
when it can also run as a local process, the python module that serves it (`local_module`).
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from oca import config
from oca.errors import BadInput, NotFound


class Recipe(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    scope: str | None = None
    app: str = ""
    app_version: str = "0"
    port: int
    health: str = "tcp"
    ready_timeout: float = 60.0
    local_module: str | None = None
    local_args: list[str] = Field(default_factory=list)
    image: str | None = None
    description: str | None = None
    path: str = ""

    @property
    def folder(self) -> Path:
        return Path(self.path)


def recipes_dir() -> Path:
    return config.share_dir("compose")


def all_recipes() -> list[Recipe]:
    root = recipes_dir()
    if not root.is_dir():
        return []
    return [get_recipe(p.name) for p in sorted(root.iterdir()) if (p / "recipe.json").is_file()]


def get_recipe(name: str) -> Recipe:
    folder = recipes_dir() / name
    if "/" in name or name.startswith(".") or not (folder / "recipe.json").is_file():
        known = ", ".join(p.name for p in sorted(recipes_dir().glob("*/recipe.json"))) or "none"
        raise NotFound(f"unknown recipe {name!r}", hint=f"known recipes: {known}")
    try:
        raw = json.loads((folder / "recipe.json").read_text(encoding="utf-8"))
        return Recipe.model_validate({"name": name, **raw, "path": str(folder)})
    except (ValueError, TypeError) as e:
        raise BadInput(f"{folder / 'recipe.json'}: {e}") from e
