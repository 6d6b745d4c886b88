#!/usr/bin/env bash
# Create .venv and install oca with the extras it needs; a no-op when nothing changed.
# Usage: scripts/bootstrap.sh [EXTRAS]   (default: all extras but the torch export ones)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-docker,serve,ai,db,media,dev}"
[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=".venv/.oca-installed-$(cat pyproject.toml | sha1sum | cut -c1-12)-${extras//,/_}"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e ".[${extras}]" 2>&1 \
    | grep -v -E "^WARNING: Location|is ignored" || true
  .venv/bin/python -c "import oca" && touch "$stamp"
fi
