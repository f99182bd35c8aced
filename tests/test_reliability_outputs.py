"""Wrong output with exit 0 (issue 24): evaluate's duplicate image ids, negative track
ids and annotations of unknown images; formula injection through frame names in the
CSV; absurd option values (``--fps 1e-300``, ``--checkpoint-every -3``, smoothing at
``fps`` inf)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semapose.errors import InputError
from semapose.evaluation.posetrack_map import evaluate_posetrack
from test_eval_posetrack_map import full_pose, person, scored, seq_files


def _pred(tmp_path: Path, edit: Any) -> tuple[Path, Path]:
    pose = full_pose(0, 0)
    gt_dir, pr_dir = seq_files(tmp_path, [([person(pose)], []), ([person(pose)], [])])
    path = pr_dir / "000001_mpii_test.json"
    data = json.loads(path.read_text())
    edit(data, pose)
    path.write_text(json.dumps(data))
    return gt_dir, pr_dir


def test_duplicate_image_ids_are_refused(tmp_path: Path) -> None:
    def edit(data: dict[str, Any], pose: Any) -> None:
        data["images"][1]["id"] = data["images"][0]["id"]

    with pytest.raises(
        InputError, match=r"000001_mpii_test\.json: images\[1\]\.id: expected distinct"
    ):
        evaluate_posetrack(*_pred(tmp_path, edit))


def test_annotations_of_unknown_images_are_refused(tmp_path: Path) -> None:
    def edit(data: dict[str, Any], pose: Any) -> None:
        data["annotations"].append({"image_id": 999, "track_id": 1, **scored(pose, 0.5)})

    with pytest.raises(
        InputError, match=r"annotations\[\d+\]\.image_id: expected the id of an image"
    ):
        evaluate_posetrack(*_pred(tmp_path, edit))


def test_negative_track_ids_are_refused(tmp_path: Path) -> None:
    def edit(data: dict[str, Any], pose: Any) -> None:
        iid = data["images"][0]["id"]
        data["annotations"] = [{"image_id": iid, "track_id": -4, **scored(pose, 0.5)}]

    with pytest.raises(InputError, match=r"track_id: expected a track id from 0"):
        evaluate_posetrack(*_pred(tmp_path, edit))


def test_frame_names_cannot_inject_spreadsheet_formulas(tmp_path: Path) -> None:
    from semapose.inference.results import FramePoses, PersonPose
    from semapose.io.csv_out import write_csv

    pp = PersonPose(
        track_id=1, keypoints=np.zeros((17, 2)), scores=np.ones(17), box=np.array([0, 0, 1, 1]),
        box_score=0.9,
    )  # fmt: skip
    frames = [FramePoses(0, [pp], None, '=HYPERLINK("http://x","y").jpg')]
    frames.append(FramePoses(1, [pp], None, "+1.jpg"))
    write_csv(tmp_path / "a.csv", frames)
    with open(tmp_path / "a.csv", newline="") as fh:
        cells = [row[1] for row in list(csv.reader(fh))[1:]]
    assert all(c.startswith("'") for c in cells), cells


def test_smoothing_at_an_infinite_frame_rate_is_refused() -> None:
    from semapose.inference.smoothing import OneEuroSmoother

    for fps in (math.inf, math.nan, -1.0):
        with pytest.raises(InputError, match="smooth.fps"):
            OneEuroSmoother(fps=fps)


@pytest.mark.parametrize(("option", "value"), [("--fps", "1e-300"), ("--checkpoint-every", "-3")])
def test_absurd_predict_values_exit_2(tmp_path: Path, capsys: Any, option: str, value: str) -> None:
    pytest.importorskip("torch")
    from cli_helpers import predict_argv, predict_inputs
    from semapose.cli import main

    work = predict_inputs(tmp_path, 3)
    argv = predict_argv(
        work["video"], tmp_path / "out", work["ckpt"], "--boxes", str(work["boxes"])
    )
    assert main([*argv, option, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and option.lstrip("-").split("-")[0] in err[0], err
