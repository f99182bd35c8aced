"""Keypoint conventions: COCO-17, PoseTrack18 slots, PoseTrack's 15 evaluation joints.

The model predicts 17 channels in the **PoseTrack18 slot order**, which is COCO-17
with ``head_bottom`` and ``head_top`` in the two eye slots (PoseTrack leaves the
ears unannotated). Evaluation (poseval) uses 15 joints in its own order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

COCO_KEYPOINTS: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

#: PoseTrack18 annotation slots (the ``categories[0].keypoints`` of its JSON).
POSETRACK_KEYPOINTS: tuple[str, ...] = (
    "nose",
    "head_bottom",
    "head_top",
    "left_ear",
    "right_ear",
    *COCO_KEYPOINTS[5:],
)

#: Slots that PoseTrack never annotates.
POSETRACK_UNANNOTATED: tuple[int, ...] = (3, 4)

#: poseval's 15 evaluation joints, in poseval's order.
POSETRACK15_KEYPOINTS: tuple[str, ...] = (
    "right_ankle",
    "right_knee",
    "right_hip",
    "left_hip",
    "left_knee",
    "left_ankle",
    "right_wrist",
    "right_elbow",
    "right_shoulder",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "head_bottom",
    "nose",
    "head_top",
)

#: For each of the 15 evaluation joints, its PoseTrack18 slot.
POSETRACK15_FROM_POSETRACK18: tuple[int, ...] = tuple(
    POSETRACK_KEYPOINTS.index(n) for n in POSETRACK15_KEYPOINTS
)

#: Joint groups of the papers' tables (15-joint indices), in column order; within a
#: group in poseval's summation order (head_top, head_bottom, nose), so a group's mean
#: AP equals poseval's to the last bit.
POSETRACK15_GROUPS: dict[str, tuple[int, ...]] = {
    "Head": (14, 12, 13),
    "Shoulder": (8, 9),
    "Elbow": (7, 10),
    "Wrist": (6, 11),
    "Hip": (2, 3),
    "Knee": (1, 4),
    "Ankle": (0, 5),
}

#: Left/right pairs (17-slot indices), valid for both COCO and PoseTrack18 slots.
FLIP_PAIRS: tuple[tuple[int, int], ...] = (
    (1, 2),
    (3, 4),
    (5, 6),
    (7, 8),
    (9, 10),
    (11, 12),
    (13, 14),
    (15, 16),
)

#: In PoseTrack18 slots, slots 1/2 are head_bottom/head_top: not a left/right pair.
POSETRACK_FLIP_PAIRS: tuple[tuple[int, int], ...] = FLIP_PAIRS[1:]

#: Skeleton edges over the PoseTrack18 slots (used for drawing).
POSETRACK_SKELETON: tuple[tuple[int, int], ...] = (
    (2, 0),
    (0, 1),
    (1, 5),
    (1, 6),
    (5, 7),
    (7, 9),
    (6, 8),
    (8, 10),
    (5, 11),
    (6, 12),
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
)

#: Skeleton edges over COCO-17.
COCO_SKELETON: tuple[tuple[int, int], ...] = (
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
)

#: COCO OKS sigmas (also used by mmpose/PoseTrack for the 17 PoseTrack18 slots).
OKS_SIGMAS: np.ndarray = (
    np.array(
        [
            0.26,
            0.25,
            0.25,
            0.35,
            0.35,
            0.79,
            0.79,
            0.72,
            0.72,
            0.62,
            0.62,
            1.07,
            1.07,
            0.87,
            0.87,
            0.89,
            0.89,
        ],
        dtype=np.float64,
    )
    / 10.0
)

#: Upper-body slots (for half-body augmentation), PoseTrack18/COCO indices.
UPPER_BODY: tuple[int, ...] = tuple(range(11))
LOWER_BODY: tuple[int, ...] = tuple(range(11, 17))


def flip_permutation(
    pairs: tuple[tuple[int, int], ...] = POSETRACK_FLIP_PAIRS, n: int = 17
) -> list[int]:
    """Index permutation that swaps left and right joints."""
    perm = list(range(n))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return perm


def coco_to_posetrack18(kpts: np.ndarray) -> np.ndarray:
    """COCO-17 -> PoseTrack18 slots: same layout, eye slots hold head_bottom/head_top.

    COCO has no head_bottom/head_top: the eye slots are zeroed (unannotated),
    as PoseTrack practice does when it re-uses COCO-trained heads.
    """
    out = np.array(kpts, copy=True)
    out[..., 1:3, :] = 0
    return out


def posetrack18_to_posetrack15(kpts: np.ndarray) -> np.ndarray:
    """(…, 17, D) in PoseTrack18 slots -> (…, 15, D) in poseval order."""
    return np.asarray(kpts)[..., list(POSETRACK15_FROM_POSETRACK18), :]


def posetrack_categories(skeleton: tuple[tuple[int, int], ...]) -> list[dict[str, Any]]:
    """The ``categories`` of a PoseTrack18 JSON: one ``person`` with the 17 slot names
    and the given 0-based ``skeleton`` edges written 1-based."""
    return [
        {
            "supercategory": "person",
            "id": 1,
            "name": "person",
            "keypoints": list(POSETRACK_KEYPOINTS),
            "skeleton": [[a + 1, b + 1] for a, b in skeleton],
        }
    ]


# ----------------------------------------------------------------------------- BlazePose

#: BlazePose's 33 body landmarks (MediaPipe order); rows 33-38 of its output are
#: auxiliary points (the ROI alignment points), not body joints.
BLAZEPOSE_KEYPOINTS: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)


def _blazepose_limbs(*pairs: tuple[str, str]) -> tuple[tuple[int, int], ...]:
    return tuple((BLAZEPOSE_KEYPOINTS.index(a), BLAZEPOSE_KEYPOINTS.index(b)) for a, b in pairs)


#: The limbs of BlazePose's landmarks beyond the 17 joints (hands, feet, mouth), drawn
#: thin on the overlay with ``predict --landmarks 33`` (the 17-joint skeleton is drawn anyway).
BLAZEPOSE_SKELETON: tuple[tuple[int, int], ...] = _blazepose_limbs(
    *(
        (f"{s}_{a}", f"{s}_{b}")
        for s in ("left", "right")
        for a, b in (
            ("wrist", "pinky"),
            ("wrist", "index"),
            ("pinky", "index"),
            ("wrist", "thumb"),
            ("ankle", "heel"),
            ("heel", "foot_index"),
            ("ankle", "foot_index"),
        )
    ),
    ("mouth_left", "mouth_right"),
)

#: For each PoseTrack18 slot, its BlazePose landmark; -1 for head_bottom/head_top,
#: which BlazePose does not have (see :func:`blazepose_head_points`).
BLAZEPOSE_TO_POSETRACK18: tuple[int, ...] = tuple(
    BLAZEPOSE_KEYPOINTS.index(name) if name in BLAZEPOSE_KEYPOINTS else -1
    for name in POSETRACK_KEYPOINTS
)

#: The 13 PoseTrack18 slots that are annotated and that BlazePose predicts directly
#: (nose, shoulders ... ankles); the ears are mapped too but PoseTrack never labels them.
BLAZEPOSE_SHARED_SLOTS: tuple[int, ...] = tuple(
    i for i, j in enumerate(BLAZEPOSE_TO_POSETRACK18) if j >= 0 and i not in POSETRACK_UNANNOTATED
)

#: Landmarks the head rule combines: nose, eye centre, ear centre, shoulder centre.
_HEAD_PARTS: tuple[tuple[int, ...], ...] = ((0,), (2, 5), (7, 8), (11, 12))

#: BlazePose landmarks the head rule reads (their minimum visibility scores the head points).
BLAZEPOSE_HEAD_LANDMARKS: tuple[int, ...] = tuple(j for p in _HEAD_PARTS for j in p)

#: head_bottom / head_top as affine combinations (weights sum to 1) of the nose, the
#: eye centre, the ear centre and the shoulder centre. The rule: head_bottom halfway
#: from the ear centre to the shoulder centre; head_top 0.75 of the shoulder-to-ear
#: vector beyond the ear centre. On the PoseTrack18 sample it beats least-squares fits
#: scored leave-one-sequence-out (benchmarks/blazepose_sample.py, docs/paper_notes.md).
BLAZEPOSE_HEAD_WEIGHTS: dict[str, tuple[float, float, float, float]] = {
    "head_bottom": (0.0, 0.0, 0.5, 0.5),
    "head_top": (0.0, 0.0, 1.75, -0.75),
}


def blazepose_head_points(
    landmarks: np.ndarray, weights: dict[str, tuple[float, float, float, float]] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """head_bottom and head_top (…, 2) from BlazePose landmarks (…, >=33, 2).

    Each is a fixed affine combination of the nose, eye centre, ear centre and
    shoulder centre (``weights``, default :data:`BLAZEPOSE_HEAD_WEIGHTS`), so it moves
    with the head's position, size and tilt.
    """
    w = BLAZEPOSE_HEAD_WEIGHTS if weights is None else weights
    lm = np.asarray(landmarks, dtype=np.float64)
    parts = np.stack([lm[..., list(p), :].mean(axis=-2) for p in _HEAD_PARTS], axis=-2)
    bottom = np.einsum("...pd,p->...d", parts, np.asarray(w["head_bottom"]))
    top = np.einsum("...pd,p->...d", parts, np.asarray(w["head_top"]))
    return bottom, top


def blazepose_to_posetrack18(
    landmarks: np.ndarray, weights: dict[str, tuple[float, float, float, float]] | None = None
) -> np.ndarray:
    """BlazePose landmarks (…, >=33, D) -> PoseTrack18 slots (…, 17, D).

    The 13 shared joints are copied (all D values); head_bottom/head_top get the x, y
    of :func:`blazepose_head_points` and, in further columns, the minimum of the
    values of the landmarks the rule uses (e.g. visibility).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    out = np.zeros((*lm.shape[:-2], 17, lm.shape[-1]), dtype=np.float64)
    for slot, j in enumerate(BLAZEPOSE_TO_POSETRACK18):
        if j >= 0:
            out[..., slot, :] = lm[..., j, :]
    bottom, top = blazepose_head_points(lm[..., :2], weights)
    out[..., 1, :2], out[..., 2, :2] = bottom, top
    if lm.shape[-1] > 2:
        rest = lm[..., list(BLAZEPOSE_HEAD_LANDMARKS), 2:].min(axis=-2)
        out[..., 1, 2:], out[..., 2, 2:] = rest, rest
    return out


def blazepose_mixing_matrix(
    weights: dict[str, tuple[float, float, float, float]] | None = None,
) -> np.ndarray:
    """(17, 33) matrix ``M`` with ``M @ landmarks[:33, :2]`` = the PoseTrack18 points of
    :func:`blazepose_to_posetrack18` (one-hot rows for shared joints, the head rule's
    weights spread over its landmarks for head_bottom/head_top)."""
    w = BLAZEPOSE_HEAD_WEIGHTS if weights is None else weights
    m = np.zeros((17, len(BLAZEPOSE_KEYPOINTS)), dtype=np.float64)
    for slot, j in enumerate(BLAZEPOSE_TO_POSETRACK18):
        if j >= 0:
            m[slot, j] = 1.0
    for slot, name in ((1, "head_bottom"), (2, "head_top")):
        for part, weight in zip(_HEAD_PARTS, w[name], strict=True):
            for j in part:
                m[slot, j] += weight / len(part)
    return m
