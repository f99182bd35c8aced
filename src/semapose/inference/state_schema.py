"""The one check of ``predict``'s saved state (``.partial/<name>/state.json``) before use.

``state.json`` is written by the job, but a disk error, a copy or a hand edit can change
it: ``next_frame`` 999999 made ``--resume`` write a 121 MB result of 999,999 frames
with exit 0 and never process frames 6-11. :func:`checked_predict_state` reads it
through the bounded reader and checks every field against the input and the partial
files before anything is used:

* not JSON, or of another input or other options (fingerprint): ``None``, the job
  starts over (as before);
* a state of this job whose numbers cannot be right: :class:`InputError` naming the
  file, the field and what was expected (exit 2, one line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semapose.errors import InputError
from semapose.limits import MAX_INPUT_NAME_BYTES, MAX_STATE_BYTES

_KEYS = ("next_frame", "next_key", "results_bytes", "detections_bytes")
_HINT = "(run without --resume to start over)"


def _records(path: Path, limit: int) -> int | None:
    """Complete lines within the first ``limit`` bytes of ``path``; None when the file is
    shorter (damage: :mod:`semapose.inference.recovery` takes over)."""
    try:
        if path.stat().st_size < limit:
            return None
        count = 0
        with open(path, "rb") as fh:
            left = limit
            while left > 0:
                block = fh.read(min(1 << 20, left))
                if not block:
                    return None
                count += block.count(b"\n")
                left -= len(block)
        return count
    except OSError:
        return None


def checked_predict_state(
    state_file: Path, fingerprint: dict[str, Any], num_frames: int | None
) -> dict[str, Any] | None:
    """The state in ``state_file`` when it belongs to ``fingerprint`` and is consistent
    with an input of ``num_frames`` frames (None: unknown) and the partial files beside it."""
    from semapose.io.bounded import parse_json_text, read_bounded

    try:
        state = parse_json_text(
            read_bounded(state_file, MAX_STATE_BYTES, "a state file"), state_file
        )
    except InputError:
        return None  # torn or unreadable: start over
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        return None
    for key in _KEYS:
        value = state.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputError(state_file, key, f"a non-negative integer {_HINT}", value)
    frames, keys = state["next_frame"], state["next_key"]
    if num_frames is not None and frames > num_frames:
        raise InputError(
            state_file,
            "next_frame",
            f"a frame from 0 to {num_frames} (the input has {num_frames} frames) {_HINT}",
            frames,
        )
    if keys > frames:
        raise InputError(state_file, "next_key", f"at most next_frame ({frames}) {_HINT}", keys)
    partial = state_file.parent
    for key, name, expected in (
        ("detections_bytes", "detections.jsonl", frames),
        ("results_bytes", "results.jsonl", keys),
    ):
        count = _records(partial / name, state[key])
        if count is not None and count != expected:
            field = "next_frame" if name == "detections.jsonl" else "next_key"
            raise InputError(
                state_file,
                field,
                f"{count} (the records saved in {name}) {_HINT}",
                expected,
            )
    return state


def check_input_name(path: Any, name: str) -> str:
    """``name`` when the outputs named after it fit the file system (255 bytes with the
    temporary files' additions), else InputError naming the input, not ``--out``."""
    size = len(name.encode("utf-8", "surrogateescape"))
    if size > MAX_INPUT_NAME_BYTES:
        expected = (
            f"an input name of at most {MAX_INPUT_NAME_BYTES} bytes (outputs are named after it)"
        )
        raise InputError(path, "", expected, f"{size} bytes")
    return name


__all__ = ["check_input_name", "checked_predict_state"]
