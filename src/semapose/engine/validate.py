"""Validation during training: predict the val clips, write PoseTrack JSON, score poseval mAP.

For every validation sample (a GT person box, or a detection when
``data.val_boxes`` is set) the model predicts key-frame heatmaps (with flip test
when ``test.flip_test``), the codec decodes them (``test.refine``) and
:func:`~semapose.data.transforms.invert_points` maps them back to the image.
Predictions go through the evaluation helper's writer
(:func:`semapose.io.posetrack_json.write_posetrack18_predictions`, one file per
GT sequence) and are scored with :mod:`semapose.evaluation.posetrack_map`; on a
synthetic set also per degradation (clean vs degraded frames).

Only labeled frames are predicted (poseval scores nothing else). Under DDP each
rank predicts a shard; rank 0 gathers, writes and scores, and every rank gets the
metrics. No OKS-NMS over detections is applied here (training-time validation);
``semapose predict``/``evaluate`` are the reference numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Subset

from semapose.config import Config
from semapose.engine import distributed as du
from semapose.io.atomic import atomic_write_json

#: joint score below which a joint does not count for the person score (HRNet practice)
PERSON_SCORE_JOINT_THRESHOLD = 0.2


def val_indices(dataset: Any, max_samples: int = 0) -> list[int]:
    """Samples of labeled frames; with ``max_samples`` whole sequences up to that many."""
    records = getattr(dataset, "records", None)
    samples = getattr(dataset, "samples", None)
    if records is None or samples is None:
        idx = list(range(len(dataset)))
        return idx[:max_samples] if max_samples else idx
    keep = [i for i, s in enumerate(samples) if records[s.record].is_labeled]
    if not max_samples or len(keep) <= max_samples:
        return keep
    chosen: list[int] = []
    seqs: set[str] = set()
    for i in keep:
        seq = records[samples[i].record].sequence
        if seq not in seqs and len(chosen) >= max_samples:
            break
        seqs.add(seq)
        chosen.append(i)
    return chosen


def predict_people(
    model: nn.Module, images: torch.Tensor, meta: dict[str, Any], cfg: Config
) -> list[tuple[int, dict[str, Any]]]:
    """(image_id, person) for each clip of a batch: keypoints in image pixels, scores."""
    from semapose.data.codec import HeatmapCodec
    from semapose.data.transforms import flip_back_heatmaps, invert_points

    d = cfg.data
    size = (int(d.image_size[0]), int(d.image_size[1]))
    heat = model(images).float()
    if cfg.test.flip_test:
        flipped = model(images.flip(-1)).float()
        heat = 0.5 * (heat + flip_back_heatmaps(flipped, stride=d.heatmap_stride))
    codec = HeatmapCodec(size, d.heatmap_stride, d.sigma, refine=cfg.test.refine)
    coords, scores = codec.decode(heat)
    pts = invert_points(
        coords,
        _np(meta["center"]),
        _np(meta["scale"]),
        _np(meta["rotation"]),
        size,
    )
    out = []
    box_scores = _np(meta["box_score"])
    for i in range(len(pts)):
        sc = scores[i]
        good = sc > PERSON_SCORE_JOINT_THRESHOLD
        mean = float(sc[good].mean()) if good.any() else 0.0
        person = {
            "keypoints": pts[i].astype(np.float64),
            "scores": sc.astype(np.float64),
            "track_id": int(_np(meta["track_id"])[i]),
            "score": mean * float(box_scores[i]),
        }
        out.append((int(_np(meta["image_id"])[i]), person))
    return out


def _np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


class Validator:
    """Callable ``(model, step) -> metrics`` for :class:`semapose.engine.trainer.Trainer`."""

    def __init__(
        self,
        cfg: Config,
        dataset: Any,
        gt_files: Sequence[str | Path],
        out_dir: str | Path,
        by_degradation: bool = False,
        protocol: str = "poseval",
    ) -> None:
        from semapose.io.posetrack_json import gt_images

        self.cfg = cfg
        self.dataset = dataset
        self.indices = val_indices(dataset, cfg.train.val_max_samples)
        self.out = Path(out_dir)
        self.by_degradation = by_degradation
        self.protocol = protocol
        self.gt_files = [Path(p) for p in gt_files]
        self.images = {p: gt_images(p) for p in self.gt_files}
        if cfg.train.val_max_samples:  # score only the sequences that were predicted
            recs = getattr(dataset, "records", None)
            if recs is not None:
                seqs = {recs[dataset.samples[i].record].sequence for i in self.indices}
                chosen = [p for p in self.gt_files if p.name.split(".")[0] in seqs]
                self.gt_files = chosen or self.gt_files
        self.file_of: dict[int, Path] = {}
        for p in self.gt_files:
            for img in self.images[p]:
                self.file_of[int(img["id"])] = p

    def predict(self, model: nn.Module) -> list[tuple[int, dict[str, Any]]]:
        dist = torch.distributed
        rank, world = (dist.get_rank(), dist.get_world_size()) if du.is_dist() else (0, 1)
        mine = self.indices[rank::world]
        loader = DataLoader(
            Subset(self.dataset, mine),
            batch_size=self.cfg.test.batch_size,
            shuffle=False,
            num_workers=self.cfg.data.num_workers,
        )
        device = next(model.parameters()).device
        people: list[tuple[int, dict[str, Any]]] = []
        for batch in loader:
            images = batch["images"].to(device, non_blocking=True)
            people += predict_people(model, images, batch["meta"], self.cfg)
        return people

    def __call__(self, model: nn.Module, step: int) -> dict[str, float]:
        local = self.predict(model)
        gathered = du.all_gather_objects(local)
        metrics: dict[str, float] = {}
        if not du.is_dist() or torch.distributed.get_rank() == 0:
            metrics = self.score([p for part in gathered for p in part], step)
        return du.broadcast_object(metrics)

    def score(self, people: list[tuple[int, dict[str, Any]]], step: int) -> dict[str, float]:
        """Write one prediction file per GT sequence, then poseval mAP (+ by degradation)."""
        from semapose.evaluation.posetrack_map import compute_map, match
        from semapose.evaluation.poseval_io import load_eval_set
        from semapose.io.posetrack_json import write_posetrack18_predictions

        pred_dir = self.out / "val_predictions"
        per_file: dict[Path, dict[int, list[dict[str, Any]]]] = {p: {} for p in self.gt_files}
        for image_id, person in people:
            path = self.file_of.get(image_id)
            if path is not None:
                per_file[path].setdefault(image_id, []).append(person)
        pred_files = []
        for path in self.gt_files:
            dest = pred_dir / path.name
            write_posetrack18_predictions(dest, self.images[path], per_file[path])
            pred_files.append(dest)
        es = load_eval_set(self.gt_files, pred_files, self.protocol)
        matching = match(es)
        result = compute_map(es, matching, protocol=self.protocol).to_dict()
        metrics = {"mAP": _f(result["Mean"])}
        metrics.update({k: _f(v) for k, v in result.items() if k not in ("Mean", "per_joint")})
        report: dict[str, Any] = {"step": step, "posetrack": result}
        if self.by_degradation:
            labels = es.frame_labels
            labeled = np.array([lab is not None for lab in labels])
            if labeled.any():
                from semapose.evaluation.robustness import evaluate_by_degradation

                clean = np.array([lab is not None and len(lab) == 0 for lab in labels])
                degraded = labeled & ~clean
                for name, mask in (("clean", clean), ("degraded", degraded)):
                    if mask.any():
                        sub = compute_map(es, matching, mask, self.protocol).to_dict()
                        metrics[f"mAP_{name}"] = _f(sub["Mean"])
                        report[name] = sub
                robust = evaluate_by_degradation(es, matching, self.protocol)
                report["by_degradation"] = robust
                for kind, res in robust["by_type"].items():
                    metrics[f"mAP_{kind}"] = _f(res["Mean"])
        atomic_write_json(self.out / "val_result.json", report, indent=2)
        return metrics


def _f(v: Any) -> float:
    return float("nan") if v is None else float(v)
