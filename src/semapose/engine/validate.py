"""Validation during training: predict the val sequences, write PoseTrack JSON, score mAP.

Validation runs the prediction road itself (:class:`semapose.inference.stream.PoseStream`
over :class:`~semapose.inference.pipeline.TemporalRunner`), one sequence at a time,
with the validation boxes (the ground-truth person boxes, or ``data.val_boxes``
detections) served as a box file: the keypoints of every frame are those of
``semapose predict <sequence folder> --boxes <the same boxes>``, so the mAP printed
during training is the mAP of the model users run (same crops, tracker, clip
borders, flip test, decoder and person score). Each sequence is run from its first
frame to its last labeled frame plus the clip's look-ahead (later frames cannot
change earlier key frames). Predictions go through the PoseTrack writer
(:func:`semapose.io.posetrack_json.write_posetrack18_predictions`, one file per GT
sequence) and are scored with :mod:`semapose.evaluation.posetrack_map`; on a
synthetic set also per degradation (clean vs degraded frames).

Under DDP each rank predicts a share of the sequences; rank 0 gathers, writes and
scores, and every rank gets the metrics.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from semapose.config import Config
from semapose.data.records import FrameRecord
from semapose.engine import distributed as du
from semapose.io.atomic import atomic_write_json


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


def sequence_boxes(dataset: Any, indices: Sequence[int]) -> dict[int, list[tuple[Any, float]]]:
    """Record index -> the validation boxes ``(x, y, w, h, score)`` of its samples, in order."""
    out: dict[int, list[tuple[Any, float]]] = {}
    for i in indices:
        s = dataset.samples[i]
        out.setdefault(int(s.record), []).append((s.box, float(s.score)))
    return out


def predict_sequence(
    model: Any,
    cfg: Config,
    records: Sequence[FrameRecord],
    boxes: dict[int, list[tuple[Any, float]]],
    device: Any,
) -> Iterator[tuple[FrameRecord, Any]]:
    """(record, :class:`~semapose.inference.results.FramePoses`) of one sequence's frames
    (``records`` in frame order; ``boxes`` by position in ``records``), predicted exactly as
    ``semapose predict`` with those boxes as a box file predicts them."""
    from semapose.data.clips import read_rgb
    from semapose.inference.detectors.boxfile import BoxFileDetector, xywh_row
    from semapose.inference.pipeline import RunnerOptions, TemporalRunner
    from semapose.inference.stream import ArrayFrame, PoseStream

    detector = BoxFileDetector(
        {k: np.stack([xywh_row(b, sc) for b, sc in v]) for k, v in boxes.items() if v}
    )
    runner = TemporalRunner(model, RunnerOptions.from_config(cfg), device)
    labeled = [k for k, r in enumerate(records) if r.is_labeled]
    end = min(len(records), (max(labeled) if labeled else -1) + 1 + runner.lookahead)
    frames = (
        ArrayFrame(k, records[k].image_path.name, read_rgb(records[k].image_path))
        for k in range(end)
    )
    stream = PoseStream(runner, detector, source=records[0].image_path.parent)
    for poses in stream.poses(frames):
        yield records[poses.index], poses


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
        """(image id, person) of every labeled frame of this rank's share of the sequences."""
        from semapose.data.records import group_sequences

        dist = torch.distributed
        rank, world = (dist.get_rank(), dist.get_world_size()) if du.is_dist() else (0, 1)
        net = getattr(model, "module", model)  # DDP wrapper: ranks run different sequences
        device = next(net.parameters()).device
        records = self.dataset.records
        position = {id(r): i for i, r in enumerate(records)}
        boxes = sequence_boxes(self.dataset, self.indices)
        chosen = {records[i].sequence for i in boxes}
        seqs = [(n, recs) for n, recs in group_sequences(records).items() if n in chosen]
        people: list[tuple[int, dict[str, Any]]] = []
        for _, recs in seqs[rank::world]:
            mine = {k: boxes.get(position[id(r)], []) for k, r in enumerate(recs)}
            for rec, poses in predict_sequence(net, self.cfg, recs, mine, device):
                if not rec.is_labeled:
                    continue
                for p in poses.persons:
                    person = {
                        "keypoints": p.keypoints,
                        "scores": p.scores,
                        "track_id": p.track_id,
                        "box": p.box,
                        "score": p.score,
                    }
                    people.append((rec.image_id, person))
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
