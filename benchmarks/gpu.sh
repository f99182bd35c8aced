#!/usr/bin/env bash
# Every GPU check of the temporal module in one call of at most 10 minutes:
# CPU vs GPU output equality, bf16 training steps/s and peak memory, person-frames/s of
# BlazePose and HRNet-W48 with the temporal module (eager and torch.compile), and a
# temporal training run at a larger setting (ours vs the single-frame adapter of equal
# capacity, 600 steps x 64 clips, with the key-only gap; benchmarks/gpu_temporal_fit.py).
# Not run here: no GPU was lent to the session that wrote it.
#
#   benchmarks/gpu.sh              # on a CUDA machine -> benchmarks/results/gpu.json
#   benchmarks/gpu.sh --dry-run    # CPU, tiny sizes (what tests/test_gpu_script.py runs)
#   benchmarks/gpu.sh --out FILE   # elsewhere
#
# PYTHON selects the interpreter (default: .venv/bin/python if present, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
exec timeout 590 "$PY" benchmarks/gpu_checks.py "$@"
