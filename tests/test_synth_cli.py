"""``semapose synth`` command: writes a dataset, exits 2 with one line on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from semapose.cli import main


def test_synth_writes_splits(tmp_path: Path) -> None:
    rc = main(
        [
            "synth",
            "--out",
            str(tmp_path),
            "--videos",
            "1",
            "--frames",
            "3",
            "--seed",
            "2",
            "--size",
            "64x48",
            "--people",
            "2",
            "--degrade",
            "noise:2,defocus",
            "--split",
            "train,val",
        ]
    )
    assert rc == 0
    for split in ("train", "val"):
        assert len(list((tmp_path / "annotations" / split).glob("*.json"))) == 1
        assert len(list((tmp_path / "images" / split).glob("*/*.jpg"))) == 3
        assert len(list((tmp_path / "videos" / split).glob("*.mp4"))) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--videos", "0"],
        ["--frames", "0"],
        ["--size", "64"],
        ["--size", "31x64"],
        ["--people", "4-2"],
        ["--people", "a-b"],
        ["--degrade", "fog"],
        ["--degrade", "noise:9"],
        ["--rate", "1.5"],
        ["--seed", "-1"],
        ["--split", "train,train"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    rc = main(["synth", "--out", str(tmp_path / "o"), "--frames", "2", "--videos", "1", *args])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("semapose synth: error:")
    assert not (tmp_path / "o" / "annotations").exists()


def test_non_integer_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--out", str(tmp_path), "--videos", "two"])
    assert exc.value.code == 2
