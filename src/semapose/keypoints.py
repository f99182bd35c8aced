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

#: Joint groups of the papers' tables (15-joint indices), in column order.
POSETRACK15_GROUPS: dict[str, tuple[int, ...]] = {
    "Head": (12, 13, 14),
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
