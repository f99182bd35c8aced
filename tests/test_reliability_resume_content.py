"""``predict --resume`` (issue 24): the saved state is checked against the input and the
partial files before use, and the fingerprint holds the content of the inputs, not
their paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import predict_argv, predict_inputs

pytest.importorskip("torch")

from semapose.cli import main  # noqa: E402

N = 8


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("resume_content")
    return dict(predict_inputs(root, N, persons=2))


def _copy(work: dict[str, Any], tmp: Path) -> dict[str, Path]:
    """The inputs copied, so a test can change them in place."""
    out = {}
    for key in ("ckpt", "video", "boxes"):
        out[key] = tmp / Path(work[key]).name
        shutil.copy(work[key], out[key])
    return out


def _argv(files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    argv = predict_argv(files["video"], out, files["ckpt"], "--boxes", str(files["boxes"]))
    return [*argv, "--checkpoint-every", "1", *extra]


def _state(out: Path) -> dict[str, Any]:
    return json.loads((out / ".partial" / "walk" / "state.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("field", "value"),
    [("next_frame", 999_999), ("next_frame", -3), ("next_key", 5), ("results_bytes", "x")],
)
def test_a_state_that_cannot_be_right_exits_2(
    work: dict[str, Any], tmp_path: Path, capsys: Any, field: str, value: Any
) -> None:
    files = _copy(work, tmp_path)
    out = tmp_path / "out"
    assert main(_argv(files, out, "--max-frames", "3")) == 0
    state_file = out / ".partial" / "walk" / "state.json"
    state = _state(out)
    state[field] = value
    state_file.write_text(json.dumps(state))
    capsys.readouterr()
    assert main(_argv(files, out, "--resume")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "state.json" in err[0] and field in err[0], err
    assert not (out / "posetrack" / "walk.json").exists()


@pytest.mark.parametrize("changed", ["boxes", "ckpt", "video"])
def test_an_input_changed_in_place_starts_over(
    work: dict[str, Any], tmp_path: Path, changed: str
) -> None:
    files = _copy(work, tmp_path)
    out = tmp_path / "out"
    assert main(_argv(files, out, "--max-frames", "3")) == 0
    assert _state(out)["next_frame"] == 3
    path = files[changed]
    if changed == "boxes":
        items = json.loads(path.read_text())
        for it in items:
            it["bbox"][0] += 3.0
        path.write_text(json.dumps(items))
    elif changed == "ckpt":
        from test_predict_helpers import save_checkpoint, tiny_cfg

        save_checkpoint(path, tiny_cfg(), seed=7)
    else:
        from test_predict_helpers import make_video

        make_video(path, N, width=168)  # same name, other frames
    assert main(_argv(files, out, "--max-frames", "2", "--resume")) == 0
    assert _state(out)["next_frame"] == 2  # started over, not 5
