"""Training checkpoints: safetensors weights + a small sidecar, all written atomically.

A checkpoint ``NAME`` (``step_00001000``, or ``step_00001000_epoch_0003`` at an
epoch end, so names sort by step) in ``<output_dir>/checkpoints/`` is two files:

* ``NAME.safetensors`` — the model's state dict (safetensors never runs code on
  load); its metadata carries the run's config as JSON, so the weights alone
  rebuild the model;
* ``NAME.state.pt`` — the training state (:meth:`semapose.engine.loop.TrainLoop.state`:
  optimizer, scheduler, grad-scaler and RNG states, step, epoch, position in the
  epoch) plus the best metric; ``semapose fit``'s ``fit_state.pt`` is the same state
  with the trained parts' weights inside (:mod:`.fit_state`).

Both are read by :mod:`semapose.weights.read`, the reader every weights file goes
through (no pickled code runs, NaN/inf weights are refused).

Both are written through :func:`semapose.io.atomic.atomic_path`; only then is
``<output_dir>/last.json`` (atomically) pointed at them, so a kill at any moment
leaves the previous complete checkpoint as "last". Old rolling checkpoints are
removed after the pointer moves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from semapose.errors import CheckpointError
from semapose.io.atomic import atomic_path, atomic_write_json
from semapose.weights.read import (
    check_finite,
    read_safetensors,
    read_torch,
    save_state_dict_file,
)

LAST = "last.json"
BEST = "best.json"


def weights_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """State dict as independent contiguous CPU tensors (safetensors refuses shared storage)."""
    return {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}


def weights_metadata(config: dict[str, Any], step: int) -> dict[str, str]:
    """Safetensors metadata of trained weights: the config that rebuilds the model.

    ``model.backbone_weights`` (the *initialisation*) is moved to
    ``init_backbone_weights``: the trained file holds every weight already, and
    loading it must not need the initial checkpoint.
    """
    cfg = json.loads(json.dumps(config))
    model = cfg.get("model", {})
    init = str(model.get("backbone_weights", "") or "")
    if "backbone_weights" in model:
        model["backbone_weights"] = ""
    return {"semapose_config": json.dumps(cfg), "step": str(step), "init_backbone_weights": init}


def save_weights(
    model: torch.nn.Module, path: str | Path, metadata: dict[str, str] | None = None
) -> Path:
    """Write the model's weights to ``path`` (safetensors) atomically."""
    path = Path(path)
    meta = {"format": "pt"}
    meta.update(metadata or {})
    save_state_dict_file(path, weights_state(model), meta)
    return path


def read_finite_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Finite tensors and metadata of a safetensors file; CheckpointError if it cannot be read."""
    tensors, meta = read_safetensors(path)
    check_finite(tensors, path)
    return tensors, meta


def load_weights(model: torch.nn.Module, path: str | Path, strict: bool = True) -> dict[str, str]:
    """Load weights into ``model``; names missing/unexpected keys on mismatch. Returns metadata."""
    tensors, meta = read_finite_weights(path)
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"{path}: weights do not fit the model: missing {_few(missing)}, "
            f"unexpected {_few(unexpected)}"
        )
    bad = [k for k in tensors if k in own and tuple(own[k].shape) != tuple(tensors[k].shape)]
    if bad:
        k = bad[0]
        raise CheckpointError(
            f"{path}: {k}: expected shape {tuple(own[k].shape)}, got {tuple(tensors[k].shape)}"
        )
    model.load_state_dict({k: v for k, v in tensors.items() if k in own}, strict=strict)
    return meta


def _few(keys: list[str]) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:4])
    return f"{len(keys)} ({shown}{', ...' if len(keys) > 4 else ''})"


def save_checkpoint(
    output_dir: str | Path,
    name: str,
    model: torch.nn.Module,
    state: dict[str, Any],
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Write ``NAME.safetensors`` + ``NAME.state.pt`` then point ``last.json`` at them."""
    out = Path(output_dir)
    ckpt_dir = out / "checkpoints"
    weights = ckpt_dir / f"{name}.safetensors"
    sidecar = ckpt_dir / f"{name}.state.pt"
    save_weights(model, weights, metadata)
    write_training_state(sidecar, state)
    record = {
        "name": name,
        "weights": str(weights.relative_to(out)),
        "state": str(sidecar.relative_to(out)),
        "step": int(state.get("step", 0)),
        "epoch": int(state.get("epoch", 0)),
    }
    atomic_write_json(out / LAST, record, indent=2)
    return record


def last_checkpoint(output_dir: str | Path) -> dict[str, Any] | None:
    """The record in ``last.json`` (None when the run has no checkpoint yet)."""
    path = Path(output_dir) / LAST
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: expected a JSON checkpoint pointer, got {exc}") from exc
    if not isinstance(record, dict) or not {"weights", "state"} <= set(record):
        raise CheckpointError(f"{path}: expected keys 'weights' and 'state', got {record!r:.80}")
    return record


def write_training_state(path: str | Path, state: dict[str, Any]) -> None:
    """Write a training state (``TrainLoop.state()`` plus the caller's entries) atomically,
    free space checked first."""
    from semapose.io.freespace import nbytes

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, size_hint=nbytes(state)) as tmp:
        torch.save(state, tmp)


def read_training_state(
    path: str | Path, what: str = "a checkpoint state file", hint: str = ""
) -> dict[str, Any]:
    """A training state file (a checkpoint's sidecar, ``fit``'s ``fit_state.pt``) read
    with the checked reader (no pickled code runs): a mapping with every entry of
    :data:`STATE_KEYS`, else a :class:`CheckpointError` naming the file (and ``hint``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: expected {what}, got no such file")
    state = read_torch(path, what)
    if not isinstance(state, dict):
        raise CheckpointError(
            f"{path}: top level: expected a mapping of the training state, "
            f"got {type(state).__name__}"
        )
    missing = [k for k in STATE_KEYS if k not in state]
    if missing:
        raise CheckpointError(
            f"{path}: expected {what} with keys {', '.join(STATE_KEYS)}; "
            f"missing {', '.join(missing)}{f' ({hint})' if hint else ''}"
        )
    return state


#: entries every training state holds (``engine.loop.TrainLoop.state``)
STATE_KEYS = ("optimizer", "scheduler", "scaler", "rng", "step", "epoch", "step_in_epoch")


def prune_checkpoints(output_dir: str | Path, keep: int, protect: set[str]) -> None:
    """Keep the ``keep`` newest checkpoints (names sort by step), never deleting ``protect``."""
    ckpt_dir = Path(output_dir) / "checkpoints"
    if not ckpt_dir.is_dir():
        return
    names = sorted(p.name[: -len(".safetensors")] for p in ckpt_dir.glob("*.safetensors"))
    for name in names[: max(0, len(names) - keep)]:
        if name in protect:
            continue
        for suffix in (".safetensors", ".state.pt"):
            (ckpt_dir / f"{name}{suffix}").unlink(missing_ok=True)


def export_weights(
    output_dir: str | Path, dest: str | Path, info: dict[str, Any] | None = None
) -> Path:
    """Copy a run's best (else final) weights to ``dest`` + a ``dest.json`` sidecar.

    The sidecar holds the config, the best/final validation metrics and ``info``
    (e.g. training time); used to produce the bundled weights in ``semapose/weights``.
    """
    out = Path(output_dir)
    src = out / "best.safetensors"
    if not src.is_file():
        src = out / "model.safetensors"
    tensors, meta = read_finite_weights(src)
    if "semapose_config" in meta:
        step = int(meta.get("step", "0") or 0)
        init = meta.get("init_backbone_weights", "")
        meta.update(weights_metadata(json.loads(meta["semapose_config"]), step))
        meta["init_backbone_weights"] = meta["init_backbone_weights"] or init
    dest = Path(dest)
    save_state_dict_file(dest, tensors, meta)
    record: dict[str, Any] = {"config": json.loads(meta.get("semapose_config", "{}"))}
    record["weights_from"] = src.name
    for name in ("best.json", "summary.json"):
        if (out / name).is_file():
            record[name.split(".")[0]] = json.loads((out / name).read_text(encoding="utf-8"))
    record.update(info or {})
    atomic_write_json(dest.with_suffix(".json"), record, indent=2)
    return dest
