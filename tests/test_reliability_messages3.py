"""Misleading messages of issue 24, each now one line saying what is wrong: a dangling
``--out`` symlink ("File exists"), a 245-character input name (blamed ``--out``), a FIFO
named ``.mp4`` ("expected a folder"), ``SEMAPOSE_CACHE`` naming a file (the wheel
"not a zip")."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import predict_argv, predict_inputs

pytest.importorskip("torch")

from semapose.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return predict_inputs(tmp_path_factory.mktemp("msg3"), 3)


def _line(capsys: Any, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_a_dangling_out_symlink_is_named(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "out"
    out.symlink_to(tmp_path / "gone")
    argv = predict_argv(work["video"], out, work["ckpt"], "--boxes", str(work["boxes"]))
    line = _line(capsys, argv)
    assert "dangling symlink" in line and "does not exist" in line and "File exists" not in line


def test_a_too_long_input_name_is_named_not_out(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    video = tmp_path / ("a" * 245 + ".mp4")
    video.write_bytes(work["video"].read_bytes())
    line = _line(capsys, predict_argv(video, tmp_path / "out", work["ckpt"]))
    assert "input name of at most 200 bytes" in line and "245 bytes" in line


def test_a_fifo_named_like_a_video_is_named(
    work: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    line = _line(capsys, predict_argv(fifo, tmp_path / "out", work["ckpt"]))
    assert "FIFO" in line and "expected a folder or a path" not in line
    line = _line(capsys, ["fit", str(fifo), "--out", str(tmp_path / "f")])
    assert "FIFO" in line


def test_semapose_cache_naming_a_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from semapose.errors import InputError
    from semapose.weights.download import cache_dir

    cache = tmp_path / "cache"
    cache.write_text("x")
    monkeypatch.setenv("SEMAPOSE_CACHE", str(cache))
    with pytest.raises(InputError, match=r"cache: SEMAPOSE_CACHE: expected a folder"):
        cache_dir()
