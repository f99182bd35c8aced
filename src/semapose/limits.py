"""Every size bound semapose puts on what it reads, in one place (docs/reliability.md,
"Limits on input sizes and values"). A value beyond a bound is an exit-2 line naming
the file and the field, never gigabytes of memory or a hang."""

from __future__ import annotations

#: Largest JSON / NPY / JSONL / text input read into memory, counted in bytes actually
#: read (a symlink to /dev/zero, a FIFO or a device stops here, whatever ``st_size`` says).
MAX_JSON_BYTES = 256 << 20
#: Largest state file of a resumable job (``state.json``, ``index.json``, ``last.json``).
MAX_STATE_BYTES = 64 << 20
#: Largest weights file (.safetensors, .pth, .tflite): ViT-H is about 2.5 GB.
MAX_WEIGHTS_BYTES = 8 << 30
#: Largest config text embedded in a weights file or its JSON sidecar.
MAX_EMBEDDED_CONFIG_BYTES = 4 << 20

#: People per frame: a box file with more boxes for one frame is refused; a detector's
#: output is cut to its best-scoring boxes (200,000 boxes in one frame took 23 GB).
MAX_PEOPLE_PER_FRAME = 1000

#: Largest network input side (``data.image_size``), in pixels.
MAX_MODEL_INPUT_SIDE = 2048
#: Largest estimated parameter count of a model built from a config (ViT-H is 632 M).
MAX_MODEL_PARAMETERS = 1_000_000_000
#: Largest estimated parameter count of the temporal module alone.
MAX_TEMPORAL_PARAMETERS = 200_000_000

#: ``semapose fit --batch``: clips per step.
MAX_FIT_BATCH = 4096
#: ``semapose fit --lr``: learning rates above this diverge at once.
MAX_FIT_LR = 1.0
#: ``--seed``: numpy and torch take seeds in [0, 2^63).
MAX_SEED = 2**63 - 1

#: A download must complete within this many seconds in all (besides the per-read timeout).
DOWNLOAD_DEADLINE_S = 1800.0

#: Operators and tensors of a .tflite file; its graph depth is walked without recursion.
MAX_TFLITE_OPERATORS = 100_000

#: Longest input name (a video's stem): outputs, their temporary files (``.NAME.XXXXXXXX.tmp.mp4``)
#: and the lock are named after it, within the file system's 255 bytes.
MAX_INPUT_NAME_BYTES = 200
