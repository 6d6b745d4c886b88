#!/usr/bin/env bash
# Run the whole test suite: venv, Docker engine and base image are set up first if missing.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/core -x
set -euo pipefail
cd "$(dirname "$0")/.."
# torch (ai-export) is for the one-time model export and the TorchScript test, never served.
scripts/bootstrap.sh docker,serve,ai,ai-export,db,media,dev
scripts/engine.sh
.venv/bin/python -c "from oca import ai_model; raise SystemExit(not ai_model.is_exported())" \
  || .venv/bin/python -m oca.ai_model
.venv/bin/ruff check oca tests bench drivers templates compose
.venv/bin/python -m pytest "$@"
