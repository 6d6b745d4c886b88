"""Write (or check) `docs/api-reference/openapi.json` from the app.

    python -m oca.api.openapi          # regenerate
    python -m oca.api.openapi --check  # exit 1 if the file is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

TARGET = Path(__file__).resolve().parents[2] / "docs" / "api-reference" / "openapi.json"


def spec() -> dict[str, Any]:
    from oca.api.app import create_app

    return create_app().openapi()


def render() -> str:
    return json.dumps(spec(), indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            sys.stderr.write(f"{TARGET} is stale: run `python -m oca.api.openapi`\n")
            return 1
        return 0
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {TARGET}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
