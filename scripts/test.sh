#!/usr/bin/env bash
# Run the whole test suite: venv, Docker engine and base image are set up first if missing.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/core -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/engine.sh
.venv/bin/ruff check oca tests bench drivers templates compose
.venv/bin/python -m pytest "$@"
