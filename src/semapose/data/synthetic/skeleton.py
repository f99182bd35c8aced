"""Articulated body model: proportions, joint angles with limits, forward kinematics.

Bodies live in a local frame (x = the person's left, y = up, z = forward) and are
posed by a small set of joint angles (the columns of a pose array, one row per
frame). Forward kinematics is vectorised over frames: a whole track is computed
at once. Segment lengths follow human anthropometric ratios (thigh and shank
about a quarter of body height, upper arm 0.19, forearm 0.15) with per-person
variation, so the limb lengths a model sees are those of real people.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Internal joint order: COCO-17, then the extra points we need for drawing and labels.
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP, L_KNE, R_KNE, L_ANK, R_ANK = 11, 12, 13, 14, 15, 16
HEAD_BOTTOM, HEAD_TOP, L_TOE, R_TOE, L_HAND, R_HAND, PELVIS, NECK = 17, 18, 19, 20, 21, 22, 23, 24
HEAD_CENTER, HEAD_FWD, CHEST = 25, 26, 27
N_POINTS = 28

#: Internal point index of each PoseTrack18 slot (-1: slot not annotated).
POSETRACK_FROM_INTERNAL: tuple[int, ...] = (
    NOSE,
    HEAD_BOTTOM,
    HEAD_TOP,
    -1,
    -1,
    *range(5, 17),
)

# Pose array columns (radians unless stated).
POSE_COLUMNS: tuple[str, ...] = (
    "lean",  # trunk pitch forward
    "side_bend",  # trunk roll toward the person's left
    "hip_flex_l",
    "hip_flex_r",
    "hip_abd_l",
    "hip_abd_r",
    "knee_l",
    "knee_r",
    "sho_flex_l",
    "sho_flex_r",
    "sho_abd_l",
    "sho_abd_r",
    "elbow_l",
    "elbow_r",
    "head_yaw",
    "head_pitch",
    "air",  # height of the feet above the ground (jumps), in body heights
)
COL = {name: i for i, name in enumerate(POSE_COLUMNS)}
N_COLS = len(POSE_COLUMNS)

_D = np.pi / 180.0
#: Joint limits (min, max) per column: knees and elbows only bend one way, etc.
LIMITS = np.array(
    [
        (-15 * _D, 50 * _D),  # lean
        (-20 * _D, 20 * _D),  # side_bend
        (-35 * _D, 125 * _D),  # hip_flex_l
        (-35 * _D, 125 * _D),  # hip_flex_r
        (-15 * _D, 50 * _D),  # hip_abd_l
        (-15 * _D, 50 * _D),  # hip_abd_r
        (0.0, 150 * _D),  # knee_l
        (0.0, 150 * _D),  # knee_r
        (-60 * _D, 180 * _D),  # sho_flex_l
        (-60 * _D, 180 * _D),  # sho_flex_r
        (-10 * _D, 170 * _D),  # sho_abd_l
        (-10 * _D, 170 * _D),  # sho_abd_r
        (0.0, 150 * _D),  # elbow_l
        (0.0, 150 * _D),  # elbow_r
        (-70 * _D, 70 * _D),  # head_yaw
        (-35 * _D, 40 * _D),  # head_pitch
        (0.0, 0.5),  # air
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class Body:
    """Segment lengths and widths in metres (height about 1.5-1.9 m)."""

    height: float
    thigh: float
    shank: float
    ankle_height: float
    foot: float
    torso: float  # hip joints to shoulder line
    neck: float
    head: float  # head_bottom to head_top
    upper_arm: float
    forearm: float
    hand: float
    shoulder_width: float
    hip_width: float
    torso_depth: float
    limb_scale: float  # multiplies limb thickness (slim or heavy build)


def sample_body(rng: np.random.Generator) -> Body:
    """A random adult/teen body with natural proportions (+-7% per segment)."""
    h = float(rng.uniform(1.45, 1.95))

    def seg(ratio: float) -> float:
        return float(ratio * h * rng.uniform(0.93, 1.07))

    return Body(
        height=h,
        thigh=seg(0.245),
        shank=seg(0.246),
        ankle_height=0.039 * h,
        foot=seg(0.12),
        torso=seg(0.29),
        neck=seg(0.045),
        head=seg(0.13),
        upper_arm=seg(0.186),
        forearm=seg(0.146),
        hand=seg(0.09),
        shoulder_width=seg(0.23),
        hip_width=seg(0.11),
        torso_depth=seg(0.12),
        limb_scale=float(rng.uniform(0.8, 1.25)),
    )


def clip_pose(pose: np.ndarray) -> np.ndarray:
    """Enforce the joint limits."""
    return np.clip(pose, LIMITS[:, 0], LIMITS[:, 1])


def _limb(flex: np.ndarray, abd: np.ndarray, side: float) -> np.ndarray:
    """Unit direction (F, 3) of a limb hanging down, flexed forward then abducted outward."""
    y = -np.cos(flex)
    z = np.sin(flex)
    # rotate about the forward axis, outward for this side
    x = -side * y * np.sin(abd)
    y2 = y * np.cos(abd)
    return np.stack([x, y2, z], axis=-1)


def forward_kinematics(body: Body, pose: np.ndarray) -> np.ndarray:
    """Local 3D points (F, N_POINTS, 3) for a pose array (F, N_COLS).

    The pelvis height is set so the lower ankle rests on the ground (y = 0),
    plus the ``air`` column for jumps; sitting and crouching follow from that.
    """
    pose = clip_pose(pose)
    f = pose.shape[0]
    c = COL
    pts = np.zeros((f, N_POINTS, 3), dtype=np.float64)
    lean, bend = pose[:, c["lean"]], pose[:, c["side_bend"]]
    spine = np.stack([-np.sin(bend), np.cos(lean) * np.cos(bend), np.sin(lean)], axis=-1)
    pelvis = np.zeros((f, 3))
    neck = pelvis + body.torso * spine
    left = np.array([1.0, 0.0, 0.0])
    pts[:, PELVIS] = pelvis
    pts[:, NECK] = neck
    pts[:, L_SHO] = neck + 0.5 * body.shoulder_width * left
    pts[:, R_SHO] = neck - 0.5 * body.shoulder_width * left
    pts[:, CHEST] = (
        pelvis + 0.62 * body.torso * spine + np.array([0.0, 0.0, 0.5 * body.torso_depth])
    )
    pts[:, L_HIP] = pelvis + 0.5 * body.hip_width * left
    pts[:, R_HIP] = pelvis - 0.5 * body.hip_width * left
    # head: bottom on the spine, pitched and turned
    hb = neck + body.neck * spine
    pitch = lean + pose[:, c["head_pitch"]]
    yaw = pose[:, c["head_yaw"]]
    head_up = np.stack([-np.sin(bend), np.cos(pitch), np.sin(pitch) * 0.6], axis=-1)
    head_up /= np.linalg.norm(head_up, axis=-1, keepdims=True)
    fwd = np.stack([np.sin(yaw), -np.sin(pitch) * 0.5, np.cos(yaw)], axis=-1)
    fwd /= np.linalg.norm(fwd, axis=-1, keepdims=True)
    side = np.cross(head_up, fwd)  # points to the person's left
    pts[:, HEAD_BOTTOM] = hb
    pts[:, HEAD_TOP] = hb + body.head * head_up
    center = hb + 0.5 * body.head * head_up
    r = 0.38 * body.head
    pts[:, HEAD_CENTER] = center
    pts[:, HEAD_FWD] = center + r * fwd
    pts[:, NOSE] = center + 0.05 * body.head * head_up + 1.05 * r * fwd
    eye = center + 0.17 * body.head * head_up + 0.85 * r * fwd
    pts[:, L_EYE] = eye + 0.28 * r * side
    pts[:, R_EYE] = eye - 0.28 * r * side
    ear = center + 0.1 * body.head * head_up
    pts[:, L_EAR] = ear + 0.95 * r * side
    pts[:, R_EAR] = ear - 0.95 * r * side
    for s, (sh, el, wr, hd) in (
        (1.0, (L_SHO, L_ELB, L_WRI, L_HAND)),
        (-1.0, (R_SHO, R_ELB, R_WRI, R_HAND)),
    ):
        k = "l" if s > 0 else "r"
        flex, abd, elb = (
            pose[:, c[f"sho_flex_{k}"]],
            pose[:, c[f"sho_abd_{k}"]],
            pose[:, c[f"elbow_{k}"]],
        )
        pts[:, el] = pts[:, sh] + body.upper_arm * _limb(flex, abd, s)
        fore = _limb(flex + elb, abd, s)
        pts[:, wr] = pts[:, el] + body.forearm * fore
        pts[:, hd] = pts[:, wr] + body.hand * fore
    for s, (hp, kn, an, toe) in (
        (1.0, (L_HIP, L_KNE, L_ANK, L_TOE)),
        (-1.0, (R_HIP, R_KNE, R_ANK, R_TOE)),
    ):
        k = "l" if s > 0 else "r"
        flex, abd, knee = (
            pose[:, c[f"hip_flex_{k}"]],
            pose[:, c[f"hip_abd_{k}"]],
            pose[:, c[f"knee_{k}"]],
        )
        pts[:, kn] = pts[:, hp] + body.thigh * _limb(flex, abd, s)
        pts[:, an] = pts[:, kn] + body.shank * _limb(flex - knee, abd, s)
        pts[:, toe] = pts[:, an] + np.array([0.0, -0.5 * body.ankle_height, body.foot])
    # ground contact: lowest ankle at ankle height, plus jump height
    lowest = np.minimum(pts[:, L_ANK, 1], pts[:, R_ANK, 1])
    lift = body.ankle_height - lowest + pose[:, c["air"]] * body.height
    pts[:, :, 1] += lift[:, None]
    return pts


def to_world(
    local: np.ndarray, yaw: np.ndarray, root_x: np.ndarray, root_z: np.ndarray
) -> np.ndarray:
    """Rotate local points by the body yaw (0 = facing the camera) and place them.

    World frame: X right in the image, Y up, Z depth away from the camera.
    """
    cy, sy = np.cos(yaw)[:, None], np.sin(yaw)[:, None]
    lx, ly, lz = local[..., 0], local[..., 1], local[..., 2]
    # local left -> (cos, 0, sin); local forward -> (sin, 0, -cos)
    wx = lx * cy + lz * sy + root_x[:, None]
    wz = lx * sy - lz * cy + root_z[:, None]
    return np.stack([wx, ly, wz], axis=-1)
