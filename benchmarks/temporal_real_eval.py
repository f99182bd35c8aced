"""Scoring of ``benchmarks/temporal_real.py``'s models on its feature cache (also used by
``temporal_neighbours.py``): PoseTrack mAP on the synthetic test split, PCK against the
teacher on the held-out real clips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.scoring import clean_degraded, map_by_severity, write_like_gt

PCK_FRACTION = 0.1  # of the person's height
TEACHER_MIN_SCORE = 0.2


def rows_of(cache: Any, splits: tuple[str, ...]) -> Any:
    ids = [i for i, c in enumerate(cache.clips) if c.get("split") in splits]
    return cache.rows_of(ids)


def gate_stats(model: Any) -> float | None:
    gate = getattr(model.temporal, "gate", None)
    return None if gate is None else float(gate.detach().abs().mean())


def predict_rows(model: Any, cfg: Any, cache: Any, rows: Any, clean: bool) -> tuple[Any, Any]:
    """Heatmap-pixel keypoints (N, J, 2) and scores (N, J) of the key frames ``rows``."""
    import numpy as np
    import torch

    from semapose.data.codec import decode_heatmaps

    coords, scores = [], []
    for i in range(0, len(rows), 16):
        keys = rows[i : i + 16]
        b = cache.batch(keys, cfg.data.offsets, clean=clean)
        with torch.no_grad():
            heat = model.decode_clip(b["feats"]).float().numpy()
        c, s = decode_heatmaps(heat, refine="dark", sigma=cfg.data.sigma)
        coords.append(c)
        scores.append(s)
    if not coords:
        return np.zeros((0, 17, 2)), np.zeros((0, 17))
    return np.concatenate(coords), np.concatenate(scores)


def eval_synthetic(model: Any, cfg: Any, cache: Any, out: Path) -> dict[str, Any]:
    """PoseTrack mAP on the synthetic test split with ground-truth boxes (no flip test)."""
    import numpy as np

    from semapose.data.transforms import invert_points
    from semapose.evaluation.posetrack_map import compute_map, match
    from semapose.evaluation.poseval_io import load_eval_set
    from semapose.evaluation.robustness import evaluate_by_degradation

    ids = [i for i, c in enumerate(cache.clips) if c.get("split") == "synthetic_test"]
    rows = cache.rows_of(ids)
    if len(rows) == 0:
        return {}
    coords, scores = predict_rows(model, cfg, cache, rows, clean=False)
    size = tuple(cache.index["image_size"])
    pts = invert_points(
        coords * cache.stride,
        cache.rows["center"][rows],
        cache.rows["scale"][rows],
        np.zeros(len(rows)),
        size,
    )
    files = sorted({cache.clips[i]["video"] for i in ids})
    per_image: dict[int, list[dict[str, Any]]] = {}
    for n, r in enumerate(rows):
        sc = scores[n]
        good = sc > 0.2
        per_image.setdefault(int(cache.rows["image_id"][r]), []).append(
            {
                "keypoints": pts[n].astype(np.float64),
                "scores": sc.astype(np.float64),
                "track_id": int(cache.clips[int(cache.rows["clip"][r])]["track_id"]),
                "score": float(sc[good].mean()) if good.any() else 0.0,
            }
        )
    preds = []
    for f in files:
        dest = out / "synthetic_predictions" / Path(f).name
        write_like_gt(Path(f), dest, per_image)
        preds.append(dest)
    es = load_eval_set([Path(f) for f in files], preds)
    m = match(es)
    res: dict[str, Any] = {"mAP": compute_map(es, m).to_dict()["Mean"]}
    clean, degraded = clean_degraded(es.frame_labels)
    res["clean"] = compute_map(es, m, clean).to_dict()["Mean"] if clean.any() else None
    res["degraded"] = compute_map(es, m, degraded).to_dict()["Mean"] if degraded.any() else None
    robust = evaluate_by_degradation(es, m)
    res["by_type"] = {k: v["Mean"] for k, v in robust["by_type"].items()}
    res["frames_by_type"] = {k: v["num_frames"] for k, v in robust["by_type"].items()}
    res["by_severity"], res["frames_by_severity"] = map_by_severity(es, m)
    return res


def eval_real(model: Any, cfg: Any, cache: Any) -> dict[str, Any]:
    """PCK against the teacher's clean-frame keypoints on the held-out real clip(s)."""
    import numpy as np

    rows = rows_of(cache, ("real_test",))
    if len(rows) == 0:
        return {}
    kp = cache.rows["keypoints"][rows]
    w = cache.rows["weights"][rows] >= TEACHER_MIN_SCORE
    enlarge = float(cfg.data.bbox_enlarge)
    thr = PCK_FRACTION * cache.heatmap_size[0] / enlarge  # heatmap pixels
    events = np.array([str(e) for e in cache.rows["event"][rows]])
    out: dict[str, Any] = {"threshold_heatmap_px": thr, "joints": int(w.sum())}
    for name, clean in (("clean_input", True), ("degraded_input", False)):
        coords, _ = predict_rows(model, cfg, cache, rows, clean=clean)
        hit = (np.linalg.norm(coords - kp, axis=-1) <= thr) & w

        def pck(mask: Any, hit: Any = hit) -> float | None:
            n = int(w[mask].sum())
            return 100.0 * float(hit[mask].sum()) / n if n else None

        every = np.ones(len(rows), bool)
        res: dict[str, Any] = {"all": pck(every)}
        if not clean:
            res["clean_frames"] = pck(events == "")
            res["degraded_frames"] = pck(events != "")
            res["by_type"] = {t: pck(events == t) for t in sorted(set(events) - {""})}
            res["frames_by_type"] = {t: int((events == t).sum()) for t in sorted(set(events))}
        out[name] = res
    return out
