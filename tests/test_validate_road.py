"""Training-time validation scores the model users run: its per-frame keypoints are those
of ``semapose predict <sequence> --boxes <the ground-truth boxes>``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_predict_helpers import save_checkpoint, tiny_cfg, tiny_model

pytest.importorskip("torch")

from semapose.cli import main  # noqa: E402


def _posetrack_persons(doc: dict, ids: dict[int, str]) -> dict[str, list]:
    per: dict[str, list] = {}
    for a in doc["annotations"]:
        kp = np.asarray(a["keypoints"], dtype=np.float64).reshape(-1, 3)[:, :2]
        per.setdefault(ids[a["image_id"]], []).append((a["track_id"], kp.round(3).tolist()))
    return {k: sorted(v) for k, v in per.items()}


def _validation_equals_predict(cfg: object, tmp_path: Path) -> int:
    """Validation's (image, track id, keypoints) == predict --boxes over every sequence
    folder with the validation boxes as a box file; returns the number of poses compared."""
    from semapose.engine.run import build_validator

    validator = build_validator(cfg)
    people = validator.predict(tiny_model(cfg))
    assert len(people) == len(validator.indices) > 0  # one pose per validation box
    ds = validator.dataset
    items = []
    for s in ds.samples:
        rec = ds.records[s.record]
        name = f"{rec.sequence}/{rec.image_path.name}"
        items.append({"image_name": name, "bbox": [float(v) for v in s.box], "score": s.score})
    box_file = tmp_path / "gt_boxes.json"
    box_file.write_text(json.dumps(items))
    ckpt = save_checkpoint(tmp_path / "tiny.safetensors", cfg)  # the same weights (seed 0)
    folders = sorted({r.image_path.parent for r in ds.records})
    out = tmp_path / "pred"
    args = ["predict", str(folders[0].parent), "--boxes", str(box_file), "--weights", str(ckpt)]
    if len(folders) == 1:
        args[1] = str(folders[0])
    assert main([*args, "--out", str(out), "--quiet", "--no-video"]) == 0
    from_predict: dict[str, list] = {}
    for folder in folders:
        pred = json.loads((out / "posetrack" / f"{folder.name}.json").read_text())
        names = {
            im["id"]: f"{folder.name}/{im['file_name'].rsplit('/', 1)[-1]}" for im in pred["images"]
        }
        from_predict.update(_posetrack_persons(pred, names))
    names = {int(r.image_id): f"{r.image_path.parent.name}/{r.image_path.name}" for r in ds.records}
    from_validation: dict[str, list] = {}
    for image_id, p in people:
        row = (p["track_id"], np.asarray(p["keypoints"]).round(3).tolist())
        from_validation.setdefault(names[image_id], []).append(row)
    assert {k: sorted(v) for k, v in from_validation.items()} == from_predict
    return len(people)


@pytest.mark.parametrize("flip", [False, True])
def test_validation_keypoints_equal_predict_with_ground_truth_boxes(
    tmp_path: Path, flip: bool
) -> None:
    from semapose.data.synthetic.generate import generate_dataset

    root = tmp_path / "data"
    generate_dataset(root, 1, 8, seed=4, size=(128, 96), people=(2, 2), split="val")
    cfg = tiny_cfg(offsets=[-1, 1])
    cfg.data.dataset = "synthetic"
    cfg.data.root = str(root)
    cfg.data.val_annotations = str(root / "annotations" / "val")
    cfg.data.num_workers = 0
    cfg.test.flip_test = flip
    cfg.train.output_dir = str(tmp_path / "run")
    cfg.train.val_every_epochs = 1
    assert _validation_equals_predict(cfg, tmp_path) == 16  # 2 people x 8 frames


def test_validation_equals_predict_on_the_real_posetrack_sample(
    tmp_path: Path, posetrack18_sample: Path
) -> None:
    """The PoseTrack18 sample (3 sequences, real images, ground-truth boxes)."""
    cfg = tiny_cfg()
    cfg.data.dataset = "posetrack18"
    cfg.data.root = str(posetrack18_sample)
    cfg.data.val_annotations = str(posetrack18_sample / "annotations" / "val")
    cfg.data.num_workers = 0
    cfg.train.output_dir = str(tmp_path / "run")
    cfg.train.val_every_epochs = 1
    assert _validation_equals_predict(cfg, tmp_path) > 0
