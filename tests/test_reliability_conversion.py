"""The BlazePose conversion cache (issue 24): a zeroed or wrong-shape cache entry is
rebuilt from the .tflite, never loaded (a zeroed one gave 65 persons instead of 31)."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from blazepose_helpers import tflite_file  # noqa: E402
from semapose.models.backbones.blazepose_tflite import (  # noqa: E402
    converted_path,
    converted_state,
)


@pytest.mark.parametrize("damage", ["zeroed", "wrong shape"])
def test_a_damaged_conversion_cache_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    from safetensors.torch import load_file, save_file

    from semapose.weights.read import safetensors_metadata

    tflite = tflite_file()
    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path))
    good = converted_state(tflite)
    cached = converted_path(tflite)
    assert cached.is_file() and str(tmp_path) in str(cached)
    meta = safetensors_metadata(cached)
    state = load_file(str(cached))
    if damage == "zeroed":
        state = {k: torch.zeros_like(v) for k, v in state.items()}
    else:
        name = next(iter(state))
        state[name] = torch.zeros(3, 3)
    save_file(state, str(cached), metadata=meta)
    again = converted_state(tflite)
    assert again.keys() == good.keys()
    assert all(torch.equal(again[k], good[k]) for k in good)
