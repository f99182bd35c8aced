"""Full disk, unwritable output folders and leftovers of killed writes (issue 18).

A full disk is simulated by making the write raise what the OS (``OSError``
ENOSPC/EDQUOT), safetensors (``SafetensorError`` with io error 28) or PyTorch's
zip writer raise; each must end in one line naming the output and the free space
needed, with the old file kept and no temporary file left.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import no_temporaries, predict_argv, predict_inputs, train_argv, train_set
from semapose.cli import main
from semapose.io.atomic import (
    DiskFullError,
    atomic_path,
    atomic_write_json,
    remove_stale_temporaries,
)


def _enospc(*args: Any, **kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_full_disk_is_one_line_naming_the_file_and_the_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int
) -> None:
    target = tmp_path / "result.json"
    atomic_write_json(target, {"old": 1})

    def fail(self: Path, data: bytes) -> None:
        with open(self, "wb") as fh:
            fh.write(data[:10])
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(Path, "write_bytes", fail)
    with pytest.raises(DiskFullError) as info:
        atomic_write_json(target, {"new": "x" * 5000})
    msg = str(info.value)
    assert msg.startswith(f"{target}: expected free disk space to write it (at least 4.9 KiB)")
    assert "free" in msg and "\n" not in msg
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"old": 1}
    assert no_temporaries(tmp_path)


def test_full_disk_while_saving_safetensors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    import safetensors.torch
    from safetensors import SafetensorError

    from semapose.engine import checkpoint

    target = tmp_path / "model.safetensors"
    checkpoint.save_weights(torch.nn.Linear(2, 2), target)
    before = target.read_bytes()

    def save_file(tensors: Any, path: str, metadata: Any = None) -> None:
        Path(path).write_bytes(b"\0" * 100)
        raise SafetensorError(
            'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "No '
            'space left on device" })'
        )

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)
    with pytest.raises(DiskFullError, match="model.safetensors: expected free disk space"):
        checkpoint.save_weights(torch.nn.Linear(2, 2), target)
    assert target.read_bytes() == before
    assert no_temporaries(tmp_path)


def test_full_disk_while_saving_the_training_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    from semapose.engine import checkpoint

    def save(obj: Any, f: Any) -> None:
        raise RuntimeError(
            "[enforce fail at inline_container.cc:603] . PytorchStreamWriter failed writing "
            "file data/0: file write failed"
        )

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(DiskFullError, match=r"step_1\.state\.pt: expected free disk space"):
        checkpoint.save_checkpoint(tmp_path, "step_1", torch.nn.Linear(2, 2), {"step": 1})
    assert not (tmp_path / "last.json").exists()
    assert no_temporaries(tmp_path)


def test_other_errors_are_not_called_a_full_disk(tmp_path: Path) -> None:
    class Crash(Exception):
        pass

    with pytest.raises(Crash), atomic_path(tmp_path / "x.json"):
        raise Crash("a bug")
    with pytest.raises(PermissionError), atomic_path(tmp_path / "y.json"):
        raise PermissionError(errno.EACCES, "Permission denied")


def test_full_disk_in_the_cli_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    gt, pred = _evaluate_inputs(tmp_path)
    out = tmp_path / "result.json"
    monkeypatch.setattr(os, "fsync", _enospc)
    rc = main(["evaluate", "--gt", str(gt), "--pred", str(pred), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert f"{out}: expected free disk space to write it" in err, err
    assert not out.exists() and no_temporaries(tmp_path)


# ----------------------------------------------------------------------------- read-only output


def test_unwritable_folder_names_the_output_not_the_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def mkstemp(prefix: str = "", suffix: str = "", dir: str = "") -> Any:
        name = os.path.join(dir, f"{prefix}abcd1234{suffix}")
        raise PermissionError(errno.EACCES, "Permission denied", name)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    target = tmp_path / "ro" / "result.json"
    with pytest.raises(PermissionError) as info:
        atomic_write_json(target, {})
    assert info.value.filename == str(target)


def _evaluate_inputs(tmp: Path) -> tuple[Path, Path]:
    """A one-frame GT file and the same poses as predictions."""
    from semapose.keypoints import POSETRACK_KEYPOINTS

    kp = [float(v) for j in range(17) for v in (10 + 3 * j, 20 + 2 * j, 0 if j in (3, 4) else 1)]
    image = {"id": 10000010000, "file_name": "images/val/s/000000.jpg", "is_labeled": True}
    cats = [{"id": 1, "name": "person", "keypoints": list(POSETRACK_KEYPOINTS)}]
    ann = {"image_id": 10000010000, "track_id": 0, "keypoints": kp}
    for kind, extra in (
        ("gt", {"bbox_head": [0.0, 0.0, 20.0, 24.0]}),
        ("pred", {"scores": [0.9] * 17}),
    ):
        (tmp / kind).mkdir()
        doc = {"images": [image], "annotations": [{**ann, **extra}], "categories": cats}
        (tmp / kind / "000001_s.json").write_text(json.dumps(doc))
    return tmp / "gt", tmp / "pred"


def test_evaluate_out_in_a_read_only_folder_names_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A real read-only folder where the OS enforces it, else the same error by mkstemp."""
    gt, pred = _evaluate_inputs(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.access(ro, os.W_OK):  # root: permissions are not enforced
        real = tempfile.mkstemp

        def mkstemp(prefix: str = "", suffix: str = "", dir: Any = None) -> Any:
            if Path(dir) == ro:
                name = os.path.join(dir, f"{prefix}abcd1234{suffix}")
                raise PermissionError(errno.EACCES, "Permission denied", name)
            return real(prefix=prefix, suffix=suffix, dir=dir)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    rc = main(["evaluate", "--gt", str(gt), "--pred", str(pred), "--out", str(ro / "r.json")])
    err = capsys.readouterr().err
    ro.chmod(0o755)
    assert rc == 2, err
    assert f"{ro / 'r.json'}: expected a path that can be read or written" in err, err
    assert ".r.json." not in err


# ----------------------------------------------------------------------------- leftovers


def test_stale_temporaries_are_removed_but_never_user_files(tmp_path: Path) -> None:
    ours = [
        ".step_5.safetensors.k3j_9x2a.tmp.safetensors",
        ".step_5.state.pt.abcdefgh.tmp.pt",
        ".last.json.0a1b2c3d.tmp.json",
        ".log.abcdefgh.tmp",
    ]
    users = [
        "notes.tmp",
        ".hidden.tmp",
        "my.abcdefgh.tmp.safetensors",
        ".a.ABCDEFGH.tmp.json",
        ".a.abc.tmp.json",
        "step_5.safetensors",
    ]
    for name in ours + users:
        (tmp_path / name).write_text("x")
    (tmp_path / ".dir.abcdefgh.tmp").mkdir()
    removed = remove_stale_temporaries(tmp_path, tmp_path / "missing")
    assert sorted(p.name for p in removed) == sorted(ours)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*users, ".dir.abcdefgh.tmp"])


def test_a_real_temporary_file_matches_the_pattern(tmp_path: Path) -> None:
    from semapose.io.atomic import TEMPORARY_NAME

    for name in ("model.safetensors", "a.state.pt", "last.json", "noext"):
        with atomic_path(tmp_path / name) as tmp:
            assert TEMPORARY_NAME.fullmatch(tmp.name), tmp.name
            tmp.write_bytes(b"")


def test_training_start_removes_leftovers_of_killed_checkpoint_writes(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    ds = train_set(tmp_path / "ds")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    stale = [
        run / "checkpoints" / ".step_1.safetensors.k3j_9x2a.tmp.safetensors",
        run / "checkpoints" / ".step_1.state.pt.abcdefgh.tmp.pt",
        run / ".last.json.0a1b2c3d.tmp.json",
    ]
    mine = run / "checkpoints" / "my_notes.tmp"
    for p in [*stale, mine]:
        p.write_bytes(b"\0" * 1000)
    argv = train_argv(ds, run)
    assert main(argv) == 0
    assert not any(p.exists() for p in stale)
    assert mine.exists()


# ----------------------------------------------------------------------------- append-only writes


def test_full_disk_while_appending_partial_results_names_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The appended JSONL of ``predict`` fails with an OSError that names no file."""
    pytest.importorskip("torch")
    from semapose.inference import job

    work = predict_inputs(tmp_path, 6)
    out = tmp_path / "out"
    argv = predict_argv(work["video"], out, work["ckpt"], "--boxes", str(work["boxes"]))
    argv += ["--checkpoint-every", "2"]
    calls = {"n": 0}
    real = job._fsync

    def fsync(fh: Any) -> None:
        calls["n"] += 1
        if calls["n"] > 2:
            _enospc()
        real(fh)

    monkeypatch.setattr(job, "_fsync", fsync)
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert f"{out}: expected free disk space to write its outputs" in err
    assert "--resume" in err
    monkeypatch.undo()
    assert main([*argv, "--resume"]) == 0  # the saved state was kept


def test_full_disk_while_appending_the_training_log_names_the_run_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    pytest.importorskip("torch")
    from semapose.engine.logging import RunLogger

    ds = train_set(tmp_path / "ds")
    run = tmp_path / "run"
    monkeypatch.setattr(RunLogger, "log", _enospc)
    argv = train_argv(ds, run)
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"{run}: expected free disk space to write its outputs" in err, err
