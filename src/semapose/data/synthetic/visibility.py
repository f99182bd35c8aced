"""Per-joint visibility read from the part-label buffer of a rendered frame."""

from __future__ import annotations

import numpy as np

from semapose.data.synthetic import skeleton as sk
from semapose.data.synthetic.render import (
    HAIR,
    HEAD,
    L_FARM,
    L_FOOT,
    L_HANDP,
    L_SHIN,
    L_THIGH,
    L_UARM,
    MARK,
    NECK,
    PARTS_PER_PERSON,
    R_FARM,
    R_FOOT,
    R_HANDP,
    R_SHIN,
    R_THIGH,
    R_UARM,
    TORSO,
    part_codes,
)
from semapose.data.synthetic.scene import PersonTrack

#: For each internal joint with a label, the parts whose pixels show it.
ATTACH: dict[int, frozenset[int]] = {
    sk.NOSE: frozenset({HEAD}),
    sk.HEAD_BOTTOM: frozenset({NECK, HEAD, HAIR, TORSO}),
    sk.HEAD_TOP: frozenset({HEAD, HAIR}),
    sk.L_SHO: frozenset({TORSO, MARK, L_UARM}),
    sk.R_SHO: frozenset({TORSO, MARK, R_UARM}),
    sk.L_ELB: frozenset({L_UARM, L_FARM}),
    sk.R_ELB: frozenset({R_UARM, R_FARM}),
    sk.L_WRI: frozenset({L_FARM, L_HANDP}),
    sk.R_WRI: frozenset({R_FARM, R_HANDP}),
    sk.L_HIP: frozenset({TORSO, L_THIGH}),
    sk.R_HIP: frozenset({TORSO, R_THIGH}),
    sk.L_KNE: frozenset({L_THIGH, L_SHIN}),
    sk.R_KNE: frozenset({R_THIGH, R_SHIN}),
    sk.L_ANK: frozenset({L_SHIN, L_FOOT}),
    sk.R_ANK: frozenset({R_SHIN, R_FOOT}),
}


def joint_visibility(label: np.ndarray, track: PersonTrack, slot: int, t: int) -> np.ndarray:
    """Per PoseTrack18 slot: 2 visible, 1 inside the image but hidden, 0 outside/unannotated.

    A joint is visible when the pixel on top at its location belongs to one of the
    person's own parts that contain the joint; for the torso and head (solid
    parts) the joint must also not lie behind the part's centre, so the far
    shoulder in a side view and the nose of a person seen from behind count as
    hidden.
    """
    h, w = label.shape
    pts = track.points[t]
    dep = track.depth[t]
    out = np.zeros(17, dtype=np.int64)
    base = 1 + slot * PARTS_PER_PERSON
    _, part_of, _ = part_codes(track.look.long_sleeves, track.look.shorts)
    torso_depth = float(dep[[sk.L_SHO, sk.R_SHO, sk.L_HIP, sk.R_HIP]].mean())
    head_depth = float(dep[sk.HEAD_CENTER])
    tol = 0.02
    for s, j in enumerate(sk.POSETRACK_FROM_INTERNAL):
        if j < 0:
            continue
        x, y = float(pts[j, 0]), float(pts[j, 1])
        if not (0.0 <= x < w and 0.0 <= y < h):
            continue
        lab = int(label[int(y), int(x)])
        offset = lab - base
        part = part_of[offset] if 0 <= offset < PARTS_PER_PERSON else -1
        ok = part in ATTACH[j]
        if ok and part in (TORSO, MARK) and float(dep[j]) > torso_depth + tol:
            ok = False
        if ok and part in (HEAD, HAIR) and float(dep[j]) > head_depth + tol:
            ok = False
        out[s] = 2 if ok else 1
    return out
