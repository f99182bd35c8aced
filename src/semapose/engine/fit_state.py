"""``fit_state.pt``: the resumable training state of ``semapose fit``, validated before use.

The file is the engine's training state (:meth:`semapose.engine.loop.TrainLoop.state`,
written and read by :mod:`semapose.engine.checkpoint`) with the trained parts' weights
inside (``temporal``, ``head``: the backbone is frozen and comes from its own asset),
the run's ``log`` and its ``fit_config``. :func:`load_fit_state` is the one schema check
of the file (issue 24): it is read with the checked reader
(:func:`~semapose.engine.checkpoint.read_training_state`: random bytes, an empty file,
a pickle or a missing state entry are a :class:`CheckpointError`), and every field is
checked before anything is loaded: ``step`` (an integer from 0 to the run's steps:
10^9 saved step-50 weights as step 60 before), ``temporal``/``head`` (tensors, finite),
``optimizer`` (a dict), ``log`` (records with an integer ``step`` and finite numbers),
``fit_config`` (this run's settings). :func:`save_fit_state` writes it atomically. A
non-finite loss is a :class:`FitDivergedError` (one line; the last checkpoint is kept).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from semapose.engine.steps import NonFiniteLossError
from semapose.errors import CheckpointError, shown_path, shown_value

_HINT = "delete it to start training over"


class FitDivergedError(NonFiniteLossError, FloatingPointError):
    """Training produced a non-finite loss (a learning rate too high, or bad data)."""


def _bad(path: Path, field: str, expected: str, got: object) -> CheckpointError:
    return CheckpointError(
        f"{shown_path(path)}: {field}: expected {expected}, got {shown_value(got)} ({_HINT})"
    )


def _tensors(state: dict[str, Any], key: str, path: Path) -> dict[str, torch.Tensor]:
    value = state.get(key)
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()
    ):
        raise _bad(path, key, "a mapping of tensors", type(value).__name__)
    for name, t in value.items():
        if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
            raise _bad(path, f"{key}.{name}", "finite weights", "NaN/inf values")
    return value


def _log(value: Any, step: int, path: Path) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _bad(path, "log", "a list of records", type(value).__name__)
    previous = 0
    for i, rec in enumerate(value):
        where = f"log[{i}]"
        if not isinstance(rec, dict):
            raise _bad(path, where, "a record (a dict)", type(rec).__name__)
        s = rec.get("step")
        if not isinstance(s, int) or isinstance(s, bool) or not previous < s <= step:
            raise _bad(path, f"{where}.step", f"an integer in ({previous}, {step}]", s)
        previous = s
        for k, v in rec.items():
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if not ok:
                raise _bad(path, f"{where}.{k}", "a finite number", v)
    return value


def load_fit_state(path: Path, model: Any, loop: Any, fc: Any) -> list[dict[str, Any]]:
    """Load ``path`` into ``model`` (temporal module + head) and ``loop`` (a
    :class:`~semapose.engine.loop.TrainLoop`: optimiser, schedule, step); returns the log."""
    from semapose.engine.checkpoint import read_training_state

    state = read_training_state(path, "a fit state (fit_state.pt)", _HINT)
    step = state.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step <= fc.steps:
        raise _bad(path, "step", f"an integer from 0 to the run's {fc.steps} steps", step)
    if state.get("fit_config") != asdict(fc):
        raise CheckpointError(
            f"{shown_path(path)}: fit_config: expected the settings of this run, got "
            f"{shown_value(state.get('fit_config'))} (use a new --out or the same settings)"
        )
    temporal, head = _tensors(state, "temporal", path), _tensors(state, "head", path)
    if not isinstance(state.get("optimizer"), dict):
        got = type(state.get("optimizer")).__name__
        raise _bad(path, "optimizer", "an optimizer state (a dict)", got)
    log = _log(state.get("log"), step, path)
    try:
        model.temporal.load_state_dict(temporal)
        model.head.load_state_dict(head)
        loop.restore(state)
    except (KeyError, RuntimeError, ValueError, TypeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{shown_path(path)}: cannot resume from it ({first}; {_HINT})"
        ) from None
    return list(log)


def save_fit_state(path: Path, loop: Any, model: Any, log: list[dict[str, Any]], fc: Any) -> None:
    """Write the state after ``loop.step`` steps atomically (free space checked first)."""
    from semapose.engine.checkpoint import write_training_state

    state = {
        **loop.state(),
        "temporal": model.temporal.state_dict(),
        "head": model.head.state_dict(),
        "log": log,
        "fit_config": asdict(fc),
    }
    write_training_state(path, state)


def diverged(step: int, what: str, values: dict[str, float], last_saved: int) -> FitDivergedError:
    return FitDivergedError(
        f"fit: step {step}: expected a finite {what}, got {shown_value(values)} (learning "
        f"rate too high?); the state of step {last_saved} is kept, rerun with a lower --lr "
        "and a new --out"
    )


__all__ = ["FitDivergedError", "diverged", "load_fit_state", "save_fit_state"]
