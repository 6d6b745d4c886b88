#!/usr/bin/env bash
# Run the whole test suite: venv, Docker engine and base image are set up first if missing.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/core -x
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/engine.sh
# The ai tests need the default model exported once per machine (torch is only for that).
.venv/bin/python -c "from oca import ai_model; raise SystemExit(not ai_model.is_exported())" \
  || { scripts/bootstrap.sh ai-export && .venv/bin/python -m oca.ai_model; }
.venv/bin/ruff check oca tests bench drivers templates compose
.venv/bin/python -m pytest "$@"
