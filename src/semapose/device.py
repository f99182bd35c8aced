"""Which torch device a run uses: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

One function for training and inference. Its error names the option the user set
(``--device`` on the command line, ``train.device`` in a config), not an internal name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from semapose.errors import ConfigError, InputError

if TYPE_CHECKING:
    import torch

__all__ = ["DEVICE_CHOICES", "resolve_device"]

DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def resolve_device(
    value: str | None, option: str = "--device", local_rank: int = 0
) -> torch.device:
    """``auto`` -> ``cuda:<local_rank>`` when a GPU is visible, else ``cpu``; ``cuda`` ->
    ``cuda:<local_rank>``. ``option`` is what the user typed, for the error message:
    a command-line flag (``--device``) or a config key (``train.device``)."""
    import torch

    name = (value or "auto").strip()
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        name = f"cuda:{local_rank}"
    error = InputError if option.startswith("-") else ConfigError
    path = None if option.startswith("-") else "<config>"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise error(path, option, DEVICE_CHOICES, value) from None
    if device.type not in ("cpu", "cuda"):
        raise error(path, option, DEVICE_CHOICES, value)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise error(path, option, "a device that exists (no CUDA GPU here)", value)
        if device.index is not None and device.index >= torch.cuda.device_count():
            found = torch.cuda.device_count()
            raise error(path, option, f"a CUDA device index below {found}", value)
    return device
