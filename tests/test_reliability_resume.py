"""``predict --resume`` over damaged partial files, and what the resume fingerprint holds
(issue 18): a shortened or garbled ``results.jsonl`` / ``detections.jsonl`` is cut back
to its last intact record and the run ends equal to an uninterrupted one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import predict_argv, predict_inputs

pytest.importorskip("torch")

from semapose.cli import main  # noqa: E402

N = 14


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("resume")
    work: dict[str, Any] = dict(predict_inputs(root, N, persons=2))
    full = root / "full"
    assert main(_argv(work, full)) == 0
    work["full"] = _outputs(full)
    return work


def _argv(work: dict[str, Any], out: Path, *extra: str) -> list[str]:
    argv = predict_argv(work["video"], out, work["ckpt"], "--boxes", str(work["boxes"]))
    return [*argv, "--checkpoint-every", "1", *extra]


def _outputs(out: Path) -> dict[str, Any]:
    got = {}
    for kind in ("posetrack", "coco"):
        doc = json.loads((out / kind / "walk.json").read_text())
        if isinstance(doc, dict):
            doc.pop("semapose", None)
        got[kind] = doc
    return got


def _garble(path: Path, line: int) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    lines[line] = lines[line][:5] + b"\x00\xff}{" + lines[line][9:]
    path.write_bytes(b"".join(lines))


def _cut(path: Path, fraction: float) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


DAMAGE = {
    "results torn mid-line": lambda p: _cut(p / "results.jsonl", 0.55),
    "results garbled": lambda p: _garble(p / "results.jsonl", 2),
    "results deleted": lambda p: (p / "results.jsonl").unlink(),
    "results emptied": lambda p: (p / "results.jsonl").write_bytes(b""),
    "results with a foreign line": lambda p: _garble(p / "results.jsonl", 0),
    "detections torn": lambda p: _cut(p / "detections.jsonl", 0.4),
    "detections garbled": lambda p: _garble(p / "detections.jsonl", 5),
    "both torn": lambda p: (_cut(p / "results.jsonl", 0.8), _cut(p / "detections.jsonl", 0.3)),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_resume_over_damaged_partial_files_equals_an_uninterrupted_run(
    work: dict[str, Any], tmp_path: Path, capsys: Any, case: str
) -> None:
    out = tmp_path / "out"
    assert main(_argv(work, out, "--max-frames", "9")) == 0
    partial = out / ".partial" / "walk"
    assert json.loads((partial / "state.json").read_text())["next_frame"] == 9
    DAMAGE[case](partial)
    capsys.readouterr()
    assert main(_argv(work, out, "--resume")) == 0
    assert "resuming from frame" in capsys.readouterr().err
    assert _outputs(out) == work["full"]
    assert not partial.exists()


def test_intact_partial_files_resume_without_a_note(
    work: dict[str, Any], tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"
    assert main(_argv(work, out, "--max-frames", "6")) == 0
    capsys.readouterr()
    assert main(_argv(work, out, "--resume")) == 0
    assert "note" not in capsys.readouterr().err
    assert _outputs(out) == work["full"]


def test_batch_is_part_of_the_resume_fingerprint(work: dict[str, Any], tmp_path: Path) -> None:
    """Resuming with another --batch starts over (the two would give different numbers)."""
    out = tmp_path / "out"
    state = out / ".partial" / "walk" / "state.json"
    assert main(_argv(work, out, "--max-frames", "5", "--batch", "1")) == 0
    assert json.loads(state.read_text())["next_frame"] == 5
    assert main(_argv(work, out, "--max-frames", "2", "--batch", "4", "--resume")) == 0
    assert json.loads(state.read_text())["next_frame"] == 2  # started over
    assert main(_argv(work, out, "--max-frames", "2", "--batch", "4", "--resume")) == 0
    assert json.loads(state.read_text())["next_frame"] == 4  # same batch: resumed
