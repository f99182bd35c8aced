"""The one reader of weight files: tensors out, never code run.

* ``.safetensors`` -- read with safetensors (tensors + string metadata);
* anything else written by ``torch.save`` (zip archive or legacy pickle) --
  ``torch.load(weights_only=True)``; the only globals allowed beyond torch's are
  numpy's array/scalar/dtype reconstructors, which mmpose/mmcv checkpoints carry in
  their ``meta``. A refused file gets one line naming the global it asked for;
* ``.tflite`` -- :func:`semapose.weights.tflite.read_tflite` (flatbuffer, no runtime).

Model weights are also checked for NaN/inf values (a file with them is refused:
it would load and give degenerate poses). Converting key layouts is not done here:
each backbone converts its published layouts beside its own module.

Every file a user or a cache names is first checked to be a regular file within
:data:`~semapose.limits.MAX_WEIGHTS_BYTES` (:func:`check_weights_file`); files that
ship inside this package (``semapose/weights``) are trusted like its code.

:func:`read_weights` is the one pass of the loader below ``models/``: a resolved value's
file read once, with everything the model builder will need (the config, the vetted
backbone weights it names and, when it cannot do without them, their file; for a
backbone's own format its cached conversion and companion files), so that building
never calls back into ``weights/``.
"""

from __future__ import annotations

import io
import pickletools
import re
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semapose.errors import CheckpointError, InputError
from semapose.limits import MAX_EMBEDDED_CONFIG_BYTES, MAX_WEIGHTS_BYTES

if TYPE_CHECKING:
    from torch import Tensor

    from semapose.config import Config
    from semapose.weights.resolve import References, WeightsSource

__all__ = [
    "OwnFormat",
    "StateDict",
    "WeightsFile",
    "check_finite",
    "checkpoint_config",
    "extract_state_dict",
    "load_state_dict_file",
    "read_checkpoint",
    "read_weights",
    "read_safetensors",
    "safetensors_metadata",
    "read_torch",
    "save_state_dict_file",
]

StateDict = dict[str, "Tensor"]

#: the files that ship with semapose (trusted: no regular-file check)
_PACKAGE_DIR = Path(__file__).resolve().parent

#: containers in which training frameworks wrap the weights, in order of preference
_WRAPPERS = ("state_dict", "model", "model_state_dict", "best_state_dict", "module")
_SHOWN = 5
_REFUSED_HINT = (
    "semapose never unpickles code. Extract the state_dict in a trusted environment and "
    "save it with safetensors.torch.save_file (see docs/backbones.md)"
)


def _numpy_safe_globals() -> list[Any]:
    """numpy reconstructors that only rebuild arrays/scalars (no code execution)."""
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    multiarray = core.multiarray
    out: list[Any] = [np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar]
    out += sorted({type(np.dtype(t)) for t in set(np.sctypeDict.values())}, key=str)
    # files written with numpy 1.x name numpy.core.*; numpy 2 names numpy._core.*
    for legacy in ("_reconstruct", "scalar"):
        out.append((getattr(multiarray, legacy), f"numpy.core.multiarray.{legacy}"))
        out.append((getattr(multiarray, legacy), f"numpy._core.multiarray.{legacy}"))
    return out


def check_weights_file(path: str | Path, what: str = "a weights file") -> None:
    """A regular file of at most :data:`~semapose.limits.MAX_WEIGHTS_BYTES` (a symlink to a
    device or a FIFO is refused before any reader maps or reads it). Files inside this
    package are trusted."""
    from semapose.io.bounded import check_regular_file

    if _shipped(path):
        return
    try:
        check_regular_file(path, MAX_WEIGHTS_BYTES, what)
    except InputError as exc:
        raise CheckpointError(str(exc)) from None


def _shipped(path: str | Path) -> bool:
    """Whether ``path`` (symlinks followed) is a file that ships inside this package."""
    return Path(path).resolve().is_relative_to(_PACKAGE_DIR)


def read_safetensors(path: str | Path, *, finite: bool = False) -> tuple[StateDict, dict[str, str]]:
    """Tensors (on the CPU) and metadata of a safetensors file; CheckpointError naming the
    file. ``finite``: also refuse NaN/inf values (:func:`check_finite`)."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: expected a safetensors weights file, got no such file")
    check_weights_file(p, "a safetensors weights file")
    try:
        with safe_open(str(p), framework="pt", device="cpu") as fh:
            meta = dict(fh.metadata() or {})
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{p}: expected a safetensors weights file, got {exc}") from None
    if finite:
        check_finite(tensors, p)
    return tensors, meta


def safetensors_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a safetensors file (its tensors are not read)."""
    from safetensors import safe_open

    check_weights_file(path, "a safetensors weights file")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            return dict(fh.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{path}: expected a safetensors weights file, got {exc}") from None


def read_torch(path: str | Path, what: str = "a checkpoint") -> Any:
    """The object stored by ``torch.save`` in ``path``, loaded with ``weights_only=True``."""
    check_weights_file(path, what)
    return _read_torch(Path(path), what)


def _read_torch(p: Path, what: str) -> Any:
    """:func:`read_torch` of a file already checked."""
    import torch

    with open(p, "rb") as fh:
        head = fh.read(4)
    # torch.save writes a zip archive (new format) or a pickle starting with PROTO (legacy)
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        got = "an empty file" if not head else f"a file starting with {head!r}"
        raise CheckpointError(
            f"{p}: expected {what} (.safetensors, or .pth/.pt written by torch.save), got {got}"
        )
    try:
        # torch warns (several lines) about pickle protocols it does not expect
        with warnings.catch_warnings(), torch.serialization.safe_globals(_numpy_safe_globals()):
            warnings.simplefilter("ignore")
            return torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        refused = _refused_global(str(exc), p)
        if refused:
            detail = f"a pickle that needs the Python global {refused}"
        else:
            lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
            detail = (lines[0] if lines else type(exc).__name__)[:160]
        raise CheckpointError(
            f"{p}: expected {what} readable as weights only, got {detail}; {_REFUSED_HINT}"
        ) from None


def _refused_global(message: str, path: Path) -> str:
    """The global a refused pickle asks for: from torch's message, else by reading the pickle's
    opcodes (``pickletools`` only parses; nothing is imported or run)."""
    found = re.findall(r"GLOBAL ([\w.]+)", message)
    if found:
        return str(found[0])
    try:
        data = path.read_bytes()
        if data.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                name = next((n for n in zf.namelist() if n.endswith("data.pkl")), "")
                data = zf.read(name) if name else b""
        names = _pickle_globals(data)
    except Exception:  # a damaged file: fall back to torch's first line
        return ""
    allowed = ("torch.", "collections.OrderedDict", "numpy.")
    return next((n for n in names if not n.startswith(allowed)), "")


def _pickle_globals(data: bytes) -> list[str]:
    """``module.name`` of every GLOBAL / STACK_GLOBAL in a pickle, in order."""
    names: list[str] = []
    strings: list[str] = []
    for op, arg, _ in pickletools.genops(data):
        if op.name == "GLOBAL" and isinstance(arg, str):
            names.append(arg.replace(" ", "."))
        elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
            names.append(f"{strings[-2]}.{strings[-1]}")
        elif isinstance(arg, str) and "UNICODE" in op.name:
            strings.append(arg)
    return names


def read_checkpoint(path: str | Path) -> Any:
    """The stored object of a ``.safetensors`` or torch checkpoint, without running code."""
    p = Path(path)
    if p.exists() and not p.is_file():  # a FIFO or a device: say what it is
        check_weights_file(p, "a checkpoint")
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint file not found")
    check_weights_file(p, "a checkpoint")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(p), device="cpu")
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"{p}: not a readable safetensors file ({exc})") from None
    return _read_torch(p, "a checkpoint")


def extract_state_dict(obj: Any, path: str | Path = "<checkpoint>") -> StateDict:
    """The tensor mapping inside a checkpoint object.

    Unwraps ``state_dict``/``model``/... containers and a DataParallel ``module.``
    prefix; drops non-tensor entries and mmengine ``data_preprocessor.*`` buffers.
    """
    from torch import Tensor

    for _ in range(3):
        if isinstance(obj, Mapping) and not any(isinstance(v, Tensor) for v in obj.values()):
            inner = next(
                (obj[k] for k in _WRAPPERS if k in obj and isinstance(obj[k], Mapping)), None
            )
            if inner is None:
                break
            obj = inner
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: expected a mapping of tensors, got {type(obj).__name__}")
    sd = {
        str(k): v
        for k, v in obj.items()
        if isinstance(v, Tensor) and not str(k).startswith("data_preprocessor.")
    }
    if not sd:
        raise CheckpointError(
            f"{path}: no tensors found (top-level keys: {_preview(list(map(str, obj)))})"
        )
    if all(k.startswith("module.") for k in sd):
        sd = {k[len("module.") :]: v for k, v in sd.items()}
    return sd


def check_finite(sd: Mapping[str, Tensor], path: str | Path) -> None:
    """CheckpointError naming the first floating tensor with NaN or infinite values."""
    import torch

    for name, t in sd.items():
        if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
            n = int((~torch.isfinite(t)).sum())
            raise CheckpointError(
                f"{path}: {name}: expected finite weights, got {n} NaN/inf value(s) "
                "(a diverged or damaged checkpoint)"
            )


def load_state_dict_file(path: str | Path) -> StateDict:
    """The finite tensors of a weights file: ``extract_state_dict(read_checkpoint(path))``."""
    sd = extract_state_dict(read_checkpoint(path), path)
    check_finite(sd, path)
    return sd


def save_state_dict_file(
    path: str | Path, state_dict: Mapping[str, Tensor], metadata: dict[str, str] | None = None
) -> None:
    """Write a state dict as ``.safetensors`` (atomically; tensors made contiguous)."""
    from safetensors.torch import save_file

    from semapose.io.atomic import atomic_path

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    size = sum(t.numel() * t.element_size() for t in tensors.values())
    with atomic_path(path, size_hint=size + len(str(metadata or ""))) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def checkpoint_config(path: str | Path, meta: Mapping[str, str] | None = None) -> Config:
    """The config stored with a semapose checkpoint: its safetensors metadata
    (``semapose_config``, pass ``meta`` when already read), else a ``NAME.json`` sidecar
    (the config, or ``{"config": ...}``); a config-only ``NAME.json`` is its own sidecar."""
    from semapose.config import Config, from_dict

    path = Path(path)
    if meta is None and path.suffix == ".safetensors":
        meta = read_safetensors(path)[1]
    text: str | bytes | None = (meta or {}).get("semapose_config", (meta or {}).get("config"))
    sidecar = path.with_suffix(".json")
    source = str(path)
    if text is None:
        if not sidecar.is_file():
            raise CheckpointError(
                f"{path}: expected a config in the safetensors metadata or a {sidecar.name} "
                "sidecar, got neither"
            )
        source = str(sidecar)
        if _shipped(sidecar):  # ours: read as is (its size is checked below)
            text = sidecar.read_bytes()
        else:
            from semapose.io.bounded import read_bounded

            try:
                text = read_bounded(sidecar, MAX_EMBEDDED_CONFIG_BYTES, "a checkpoint config")
            except InputError as exc:
                raise CheckpointError(f"cannot read the checkpoint's config: {exc}") from None
    assert text is not None
    if len(text) > MAX_EMBEDDED_CONFIG_BYTES:
        raise CheckpointError(
            f"{source}: the checkpoint's config: expected at most "
            f"{MAX_EMBEDDED_CONFIG_BYTES >> 20} MiB of JSON, got {len(text) >> 20} MiB"
        )
    from semapose.io.bounded import parse_json_text

    try:
        raw = parse_json_text(text, source, "the checkpoint's config")
    except InputError as exc:
        raise CheckpointError(str(exc)) from None
    if isinstance(raw, dict) and isinstance(raw.get("config"), dict):
        raw = raw["config"]
    return from_dict(Config, raw, source)  # type: ignore[no-any-return]


def _preview(keys: list[str]) -> str:
    shown = ", ".join(keys[:_SHOWN])
    return f"{shown}, ... ({len(keys)} in all)" if len(keys) > _SHOWN else shown


# ----------------------------------------------------------------------------- the one pass


@dataclass(frozen=True)
class OwnFormat:
    """A backbone's own file format (BlazePose's ``.tflite``), as its spec row describes it
    (``models/`` passes these in: nothing here knows a backbone)."""

    #: the backbone (``model.backbone``) whose format it is
    backbone: str
    #: bundled model a file of this format is the backbone of (its config)
    bundled: str
    #: name of its conversion in the cache (``converted/<name>-<sha>.safetensors``)
    conversion: str
    #: files of this package its converter reads too (e.g. fitted head channels)
    companions: tuple[str, ...] = ()


@dataclass
class WeightsFile:
    """What one weights file holds, with what building its model needs (see
    :func:`read_weights`)."""

    source: WeightsSource
    #: ``source.path``
    path: Path
    #: the file's tensors; for a backbone's own format its cached conversion ({} if none)
    tensors: StateDict = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)
    #: the semapose config stored with it (for an own format: its bundled model's);
    #: None for bare checkpoints
    config: Config | None = None
    #: the backbone weights its config names, vetted (None without a stored config)
    references: References | None = None
    #: their file, read now when this one cannot do without it (temporal+head parts,
    #: a config-only model); else the builder reads them if tensors turn out missing
    backbone: WeightsFile | None = None
    #: a backbone's own format: its row's description, and where its conversion is cached
    own: OwnFormat | None = None
    conversion: Path | None = None
    #: files of this package the converter reads too, by name (absent ones left out)
    companions: dict[str, StateDict] = field(default_factory=dict)


def read_weights(
    source: WeightsSource,
    formats: Mapping[str, OwnFormat] | None = None,
    *,
    backbone: str | None = None,
) -> WeightsFile:
    """Read the file of ``source`` once, with all the builder will need:

    * a suffix in ``formats`` (a backbone's own format, e.g. ``.tflite``) -- its cached
      conversion (``tensors``, {} when there is none yet: the converter makes it), the
      companion files, and the config of the bundled model it is the backbone of;
    * ``.json`` -- a config-only model (no tensors): the config;
    * ``.safetensors`` -- tensors (finite) and metadata, and the config when the metadata
      or a ``NAME.json`` sidecar holds one (a semapose checkpoint), else a bare state dict
      (``module.`` prefixes and non-weights entries dropped, as for ``.pth``);
    * anything else -- ``torch.load(weights_only=True)`` and the state dict inside it.

    With a config, the backbone weights it names are vetted
    (:func:`~semapose.weights.resolve.vet_references`) and, when the file cannot do
    without them, resolved and read as that backbone's weights.

    ``backbone``: read the file as that backbone's initial weights instead (tensors
    only): a backbone with an own format reads every file but a ``.safetensors`` in it
    (its converter says what is wrong with one that is not), the others a state dict.
    What the tensors mean is for ``models/`` to find out; nothing here imports it.
    """
    formats = formats or {}
    path = source.path
    if backbone is not None:
        own = next((f for f in formats.values() if f.backbone == backbone), None)
        if own is not None and path.suffix != ".safetensors":
            return _read_own(source, own, model=False)
        return WeightsFile(source, path, load_state_dict_file(path))
    own = formats.get(path.suffix.lower())
    if own is not None:
        return _read_own(source, own, model=True)
    if path.suffix == ".json":
        file = WeightsFile(source, path, config=checkpoint_config(path, {}))
    elif path.suffix != ".safetensors":
        return WeightsFile(source, path, load_state_dict_file(path))
    else:
        tensors, meta = read_safetensors(path, finite=True)
        has_config = "semapose_config" in meta or "config" in meta
        if not (has_config or path.with_suffix(".json").is_file()):
            return WeightsFile(source, path, extract_state_dict(tensors, path), meta)
        file = WeightsFile(source, path, tensors, meta, checkpoint_config(path, meta))
    from semapose.weights.resolve import vet_references

    assert file.config is not None
    # temporal+head parts and config-only models always start from their backbone's weights
    needed = bool(file.meta.get("semapose_parts")) or not file.tensors
    init = file.meta.get("init_backbone_weights", "")
    refs = vet_references(path, file.config.model.backbone_weights, init, needed)
    file.references = refs
    if refs.source is not None:
        file.backbone = read_weights(refs.source, formats, backbone=file.config.model.backbone)
    return file


def _read_own(source: WeightsSource, own: OwnFormat, model: bool) -> WeightsFile:
    """A file of a backbone's own format: its cached conversion and companions."""
    from semapose.weights.conversion import cached_conversion

    cached, tensors = cached_conversion(source.path, own.conversion, source.sha256)
    file = WeightsFile(source, source.path, tensors, own=own, conversion=cached)
    for name in own.companions:
        if (_PACKAGE_DIR / name).is_file():
            file.companions[name] = read_safetensors(_PACKAGE_DIR / name)[0]
    if model:  # the bundled model whose backbone this file is (ours: its names trusted)
        from semapose.weights.resolve import bundled_path

        file.config = checkpoint_config(bundled_path(own.bundled), {})
    return file
