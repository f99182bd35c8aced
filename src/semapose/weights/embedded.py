"""A weights file carries data, never addresses.

The config embedded in a semapose checkpoint (safetensors metadata or a ``.json``
sidecar) may name the weights its backbone starts from (``model.backbone_weights``,
metadata ``init_backbone_weights``). Coming from a file someone else wrote, such a
value must not make semapose download a URL or open a local path the user never
named (``http://attacker/...``, ``/etc/passwd``). :func:`check_embedded_reference`
accepts only the names semapose knows (bundled weights, registry assets and known
checkpoints, each pinned by a checksum) and files in the weights file's own folder
(delivered with it, read by the same code-free reader); anything else is a
:class:`~semapose.errors.CheckpointError` naming the file and the field. Files that
ship inside the package are trusted.
"""

from __future__ import annotations

from pathlib import Path

from semapose.errors import CheckpointError, shown_path, shown_value


def is_allowed_reference(value: str, path: str | Path) -> bool:
    """Whether ``value`` may be followed: empty, a weights name semapose knows, a file in
    the weights file's own folder (delivered with it: a frozen backbone saved beside the
    trained parts), or any value in a file that ships inside the package. Never a URL,
    nor a path outside that folder (``/etc/passwd``, ``../x``, a symlink leading out)."""
    from semapose.weights.resolve import BUNDLED_DIR, pose_weight_names

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
    from semapose.weights.resolve import pose_weight_names

    text = (value or "").strip()
    if is_allowed_reference(text, path):
        return
    names = pose_weight_names()
    raise CheckpointError(
        f"{shown_path(path)}: {field}: expected empty, a weights name ({', '.join(names)}) "
        f"or a file beside it, got {shown_value(text)} (a weights file never makes semapose "
        "fetch a URL or open a file elsewhere; put the backbone beside it)"
    )


__all__ = ["allowed_reference", "check_embedded_reference", "is_allowed_reference"]
