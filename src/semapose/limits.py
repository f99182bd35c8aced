"""Every size bound semapose puts on what it reads (files, values inside them, numeric
options), in one place (docs/reliability.md, "Limits on input sizes and values"). A value
beyond a bound is an exit-2 line naming the file and the field, never gigabytes of memory
or a hang. The modules that check a bound import it from here (and keep its old name)."""

from __future__ import annotations

#: Largest JSON / NPY / JSONL / text input read into memory, counted in bytes actually
#: read (a symlink to /dev/zero, a FIFO or a device stops here, whatever ``st_size`` says).
MAX_JSON_BYTES = 256 << 20
#: Largest state file of a resumable job (``state.json``, ``index.json``, ``last.json``).
MAX_STATE_BYTES = 64 << 20
#: Largest evaluation input file (JSON costs about 10x its size in memory once parsed).
MAX_POSEVAL_FILE_BYTES = 256 * 2**20
#: Largest weights file (.safetensors, .pth, .tflite): ViT-H is about 2.5 GB.
MAX_WEIGHTS_BYTES = 8 << 30
#: Largest config text embedded in a weights file or its JSON sidecar.
MAX_EMBEDDED_CONFIG_BYTES = 4 << 20

#: YAML (a config file or an override): its size in bytes, the values of the document with
#: every alias expanded, nested lists/mappings, and the digits of an integer.
MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64
MAX_YAML_INT_DIGITS = 100

#: Largest accepted width or height of an image frame, in pixels.
MAX_IMAGE_SIDE = 16384
#: Largest accepted image frame, in pixels (2^26: 192 MiB as RGB).
MAX_IMAGE_PIXELS = 1 << 26
#: Largest image file read as a frame (any file type: a symlink to /dev/zero stops here).
MAX_IMAGE_FILE_BYTES = 256 << 20
#: Highest frame rate accepted (high-speed cameras reach a few thousand; the MP4
#: writer's time base overflows far beyond).
MAX_FPS = 100_000.0
#: Smallest frame rate accepted (one frame per 100 s); the MP4 writer encodes it exactly.
MIN_FPS = 0.01

#: Largest pixel coordinate accepted (negative ones are valid in PoseTrack). Beyond
#: this a value is not a position in any image, and x + w may overflow float32.
MAX_PIXEL = 1e7
#: Largest detection score accepted: beyond it float32 gives inf (and inf scores drop
#: every other person); real detectors give [0, 1] or logits.
MAX_SCORE = 1e30
#: poseval offsets track ids by ``file_index * MAX_TRACK_ID``; ids read and written must
#: stay below it.
MAX_TRACK_ID = 10000

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
#: ``semapose fit --steps``: most steps.
MAX_FIT_STEPS = 10_000_000
#: ``semapose synth``: videos per split and frames per video (PoseTrack image ids keep
#: 4 digits for the frame number).
MAX_SYNTH_VIDEOS = 99999
MAX_SYNTH_FRAMES = 9999
#: ``--seed``: numpy and torch take seeds in [0, 2^63).
MAX_SEED = 2**63 - 1

#: A download must complete within this many seconds in all (besides the per-read timeout).
DOWNLOAD_DEADLINE_S = 1800.0

#: Operators and tensors of a .tflite file; its graph depth is walked without recursion.
MAX_TFLITE_OPERATORS = 100_000
#: A TensorFlow frozen graph (.pb): its file size (SSD-class detectors are ~10-100 MB);
#: most nodes, attributes per node, inputs per node, elements of one constant; most
#: values decoded into Python lists (packed fields) and most elements a constant without
#: ``tensor_content`` may expand to (a 30-byte file must not allocate gigabytes); dims.
MAX_GRAPH_BYTES = 1 << 30
MAX_GRAPH_NODES = 200_000
MAX_GRAPH_ATTRS = 256
MAX_GRAPH_INPUTS = 4096
MAX_GRAPH_ELEMENTS = 1 << 28
MAX_GRAPH_LIST_VALUES = 1 << 22
MAX_GRAPH_DIMS = 16

#: Longest input name (a video's stem): outputs, their temporary files (``.NAME.XXXXXXXX.tmp.mp4``)
#: and the lock are named after it, within the file system's 255 bytes.
MAX_INPUT_NAME_BYTES = 200
