"""Head rules: ``head_bottom``/``head_top`` of PoseTrack18 from BlazePose's landmarks, as
affine combinations of four head parts; fitted by ``blazepose_head_fit.py`` (synthetic
people) and scored by ``blazepose_sample.py`` (real people)."""

from __future__ import annotations

import numpy as np

from harness.paths import RESULTS

HEAD_PARTS = ("nose", "eye centre", "ear centre", "shoulder centre")


def head_parts(points33: np.ndarray) -> np.ndarray:
    """(N, 4, 2): nose, eye centre, ear centre, shoulder centre."""
    groups = ((0,), (2, 5), (7, 8), (11, 12))
    return np.stack([points33[:, list(g)].mean(axis=1) for g in groups], axis=1)


def fit_head_weights(
    parts: np.ndarray, targets: np.ndarray, scale: np.ndarray
) -> tuple[float, float, float, float]:
    """Affine weights (sum 1) of the 4 parts that best give ``targets`` (least squares,
    residuals divided by the person's head size)."""
    base = parts[:, 3]
    a = (parts[:, :3] - base[:, None]) / scale[:, None, None]  # (N, 3, 2)
    b = (targets - base) / scale[:, None]
    design = a.transpose(0, 2, 1).reshape(-1, 3)
    w, *_ = np.linalg.lstsq(design, b.reshape(-1), rcond=None)
    return (float(w[0]), float(w[1]), float(w[2]), float(1 - w.sum()))


def fit_axis_weights(
    parts: np.ndarray, targets: np.ndarray, scale: np.ndarray
) -> tuple[float, float, float, float]:
    """One-parameter rule: target = ear centre + t * (ear centre - shoulder centre)."""
    ear, axis = parts[:, 2], parts[:, 2] - parts[:, 3]
    a, b = axis / scale[:, None], (targets - ear) / scale[:, None]
    t = float((a * b).sum() / max((a * a).sum(), 1e-12))
    return (0.0, 0.0, 1.0 + t, -t)


def synthetic_rules() -> dict[str, dict[str, tuple[float, ...]]]:
    """Head rules fitted on synthetic people by benchmarks/blazepose_head_fit.py (if run)."""
    import json

    path = RESULTS / "blazepose_head_fit.json"
    if not path.is_file():
        return {}
    rules = json.loads(path.read_text(encoding="utf-8")).get("rule_weights", {})
    return {k: {n: tuple(w) for n, w in v.items()} for k, v in rules.items()}


def posetrack_points(
    points33: np.ndarray, scores33: np.ndarray, weights: dict[str, tuple[float, ...]]
) -> tuple[np.ndarray, np.ndarray]:
    from semapose.keypoints import blazepose_to_posetrack18

    both = np.concatenate([points33, scores33[..., None]], axis=-1)
    mapped = blazepose_to_posetrack18(both, weights)  # type: ignore[arg-type]
    return mapped[..., :2], mapped[..., 2]
