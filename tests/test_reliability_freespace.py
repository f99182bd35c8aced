"""Free space checked before writing (issue 24): a full disk is one line naming the file
whatever words the writer uses (PyTorch 2.13's zip writer says ``unexpected pos``, which
the message pattern did not know: a traceback again)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cli_helpers import no_temporaries
from semapose.io.atomic import DiskFullError

torch = pytest.importorskip("torch")


def test_training_state_on_a_full_disk_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import semapose.io.freespace as fs
    from semapose.engine import checkpoint

    written: list[Any] = []
    real = torch.save
    monkeypatch.setattr(torch, "save", lambda *a, **k: written.append(a) or real(*a, **k))
    monkeypatch.setattr(fs, "free_bytes", lambda folder: 100)
    with pytest.raises(
        DiskFullError, match=r"\.safetensors: expected free disk space .* 100 B free"
    ):
        checkpoint.save_checkpoint(tmp_path, "step_1", torch.nn.Linear(64, 64), {"step": 1})
    assert written == [] and no_temporaries(tmp_path)


def test_torch_213s_short_write_message_is_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semapose.engine import checkpoint

    def save(obj: Any, f: Any) -> None:
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(DiskFullError, match=r"step_1\.state\.pt: expected free disk space"):
        checkpoint.save_checkpoint(tmp_path, "step_1", torch.nn.Linear(2, 2), {"step": 1})
    assert no_temporaries(tmp_path)


def test_a_message_never_says_at_least_what_is_free() -> None:
    msg = str(DiskFullError(Path("r.json"), 4096, 4096))
    assert "at least 4.0 KiB), got 4.0 KiB free, and the write needed more than that" in msg
