"""Nothing lost: a crash (an exception or a real SIGKILL) in the middle of a write leaves the
old file intact; a killed ``predict`` resumes to the same result as an uninterrupted run."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import no_temporaries, predict_argv, predict_inputs
from semapose.io.atomic import atomic_path, atomic_text_file, atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "semapose"


class Crash(Exception):
    pass


def test_exception_mid_write_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    atomic_write_json(target, {"version": 1})
    with pytest.raises(Crash), atomic_path(target) as tmp:
        tmp.write_text('{"version": 2, "half')
        raise Crash
    assert json.loads(target.read_text()) == {"version": 1}
    assert no_temporaries(tmp_path)


def test_failed_rename_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "a.txt"
    atomic_write_text(target, "old")

    def failing_replace(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("semapose.io.atomic.os.replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert no_temporaries(tmp_path)


def test_unserialisable_json_keeps_old_file(tmp_path: Path) -> None:
    target = tmp_path / "r.json"
    atomic_write_json(target, {"ok": 1})
    with pytest.raises(ValueError):
        atomic_write_json(target, {"bad": float("nan")})  # allow_nan=False: no invalid JSON
    assert json.loads(target.read_text()) == {"ok": 1}


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sigkill_mid_write_keeps_old_file(tmp_path: Path) -> None:
    """A real ``kill -9`` after half the new content was written and flushed."""
    target = tmp_path / "big.json"
    atomic_write_json(target, {"version": 1})
    code = """
        import os, signal, sys
        from semapose.io.atomic import atomic_path
        with atomic_path(sys.argv[1]) as tmp:
            with open(tmp, "w") as fh:
                fh.write('{"version": 2, "data": "' + "x" * 1_000_000)
                fh.flush()
                os.fsync(fh.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
    """
    proc = _run(code, str(target))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert json.loads(target.read_text()) == {"version": 1}
    # the killed process's temporary stays (nothing could remove it); it is hidden and
    # never mistaken for the target
    leftovers = [p.name for p in tmp_path.iterdir() if p != target]
    assert all(name.startswith(".big.json.") for name in leftovers)


def test_training_checkpoint_crash_keeps_last_good_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    from semapose.engine import checkpoint as ckpt

    model = torch.nn.Linear(3, 2)
    state = {
        "step": 1,
        "epoch": 0,
        "step_in_epoch": 1,
        "optimizer": {},
        "scheduler": {},
        "scaler": {},
        "rng": {},
    }
    first = ckpt.save_checkpoint(tmp_path, "step_00000001", model, state)
    before = (tmp_path / "last.json").read_text()
    weights_before = ckpt.read_finite_weights(tmp_path / first["weights"])[0]

    real_save = torch.save

    def crashing_save(obj: Any, f: Any, *a: Any, **k: Any) -> None:
        real_save(obj, f, *a, **k)
        Path(f).write_bytes(Path(f).read_bytes()[:10])  # half-written, then the crash
        raise Crash

    with torch.no_grad():
        model.weight.add_(1.0)
    monkeypatch.setattr(ckpt.torch, "save", crashing_save)
    with pytest.raises(Crash):
        ckpt.save_checkpoint(tmp_path, "step_00000002", model, {**state, "step": 2})
    monkeypatch.undo()
    # last.json still names the complete step-1 checkpoint, which still loads
    assert (tmp_path / "last.json").read_text() == before
    record = ckpt.last_checkpoint(tmp_path)
    assert record is not None and record["step"] == 1
    assert ckpt.read_training_state(tmp_path / record["state"])["step"] == 1
    again = ckpt.read_finite_weights(tmp_path / record["weights"])[0]
    assert all(torch.equal(again[k], weights_before[k]) for k in weights_before)
    assert not (tmp_path / "checkpoints" / "step_00000002.state.pt").exists()
    assert no_temporaries(tmp_path)


def test_safetensors_crash_keeps_old_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch")
    import safetensors.torch

    from semapose.weights.read import load_state_dict_file, save_state_dict_file

    target = tmp_path / "w.safetensors"
    save_state_dict_file(target, {"a": torch.ones(4)})

    def crashing(tensors: Any, filename: str, metadata: Any = None) -> None:
        Path(filename).write_bytes(b"\x08\x00\x00")
        raise Crash

    monkeypatch.setattr(safetensors.torch, "save_file", crashing)
    with pytest.raises(Crash):
        save_state_dict_file(target, {"a": torch.zeros(4)})
    assert torch.equal(load_state_dict_file(target)["a"], torch.ones(4))
    assert no_temporaries(tmp_path)


def test_video_writer_crash_keeps_old_video(tmp_path: Path) -> None:
    pytest.importorskip("av")
    import numpy as np

    from semapose.io.video import FrameSource, VideoWriter
    from video_helpers import write_synthetic_video

    target = write_synthetic_video(tmp_path / "v.mp4", 3, 64, 48, fps=10)
    with pytest.raises(Crash), VideoWriter(target, fps=10) as w:
        w.write(np.zeros((48, 64, 3), np.uint8))
        raise Crash
    assert FrameSource(target).num_frames == 3
    assert no_temporaries(tmp_path)


# ----------------------------------------------------------------------------- predict killed


def test_predict_killed_by_sigkill_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    """``predict`` gets SIGKILL at frame 9 of 14 (a real kill, in a subprocess); the
    ``--resume`` run finishes from the saved state and equals an uninterrupted run."""
    pytest.importorskip("torch")
    from semapose.cli import main

    work = predict_inputs(tmp_path, 14, persons=2)

    def argv(out: Path) -> list[str]:
        extra = ["--boxes", str(work["boxes"]), "--checkpoint-every", "3", "--threads", "1"]
        return predict_argv(work["video"], out, work["ckpt"], *extra)

    killed = tmp_path / "killed"
    code = """
        import json, os, signal, sys
        from semapose.inference.pipeline import TemporalRunner
        from semapose.cli import main
        push = TemporalRunner.push_frame
        def push_then_die(self, index, *a, **k):
            if index == 9:
                os.kill(os.getpid(), signal.SIGKILL)
            return push(self, index, *a, **k)
        TemporalRunner.push_frame = push_then_die
        sys.exit(main(json.loads(sys.argv[1])))
    """
    proc = _run(code, json.dumps(argv(killed)))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert not (killed / "posetrack" / "walk.json").exists()
    state = json.loads((killed / ".partial" / "walk" / "state.json").read_text())
    assert 0 < state["next_frame"] <= 9

    assert main([*argv(killed), "--resume"]) == 0
    full = tmp_path / "full"
    assert main(argv(full)) == 0
    for kind in ("posetrack", "coco"):
        a = json.loads((killed / kind / "walk.json").read_text())
        b = json.loads((full / kind / "walk.json").read_text())
        if isinstance(a, dict):
            a.pop("semapose", None)
            b.pop("semapose", None)
        assert a == b, kind
    assert not (killed / ".partial" / "walk").exists()


# ----------------------------------------------------------------------------- source scan

#: files that write outside ``atomic_path`` on purpose, and why
NON_ATOMIC_OK = {
    "io/atomic.py": "the atomic helpers themselves",
    "engine/logging.py": "append-only log.jsonl, trimmed to the resumed step on resume",
    "inference/job.py": "append-only partial results, truncated to the saved state on resume",
    "weights/download.py": "downloads into a temporary name, checked, then os.replace",
    "data/synthetic/writer.py": "writes into a temporary folder renamed when complete",
    "fitting/build.py": "feature store written inside <cache>.partial/, renamed when complete",
}
WRITES = re.compile(
    r"\.write_text\(|\.write_bytes\(|open\([^)]*[\"'][wa]b?[\"']|torch\.save\(|save_file\("
    r"|\.imwrite\(|\.savefig\(|json\.dump\(|np\.save"
)


def test_every_write_in_the_sources_is_atomic() -> None:
    """Outside the listed files, every write call sits inside a ``with atomic_path(...)``."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in NON_ATOMIC_OK:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            code = line.split("#")[0]
            if not WRITES.search(code):
                continue
            indent = len(line) - len(line.lstrip())
            inside = False
            for prev in reversed(lines[max(0, i - 20) : i]):
                p_indent = len(prev) - len(prev.lstrip())
                if prev.strip() and p_indent < indent and "atomic_path(" in prev:
                    inside = True
                    break
            if not inside:
                offenders.append(f"{rel}:{i + 1}: {line.strip()}")
    assert not offenders, "non-atomic writes:\n" + "\n".join(offenders)


def test_atomic_text_file_keeps_old_file_when_writing_fails(tmp_path: Path) -> None:

    target = tmp_path / "out.json"
    with atomic_text_file(target) as fh:
        fh.write('{"version": 1}')
    with pytest.raises(Crash), atomic_text_file(target) as fh:
        fh.write('{"version": 2, "half')
        raise Crash
    assert json.loads(target.read_text()) == {"version": 1}
    assert no_temporaries(tmp_path)
