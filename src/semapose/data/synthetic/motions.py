"""Parametric motions (walk, run, jump, arm swings, turning, sitting, free dance).

Each motion maps frame numbers to a pose array (F, N_COLS) plus a forward speed
(metres per frame) and a yaw rate (radians per frame). A person's program is a
few motion segments cross-faded into one another, plus small smooth per-person
noise so no two people move alike. Frame rate is 25 fps.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from semapose.data.synthetic.skeleton import COL, N_COLS, Body, clip_pose

_D = np.pi / 180.0
MotionFn = Callable[
    [np.ndarray, np.random.Generator, Body], tuple[np.ndarray, np.ndarray, np.ndarray]
]

#: Motion names and their sampling weights.
MOTIONS: dict[str, float] = {
    "walk": 0.28,
    "run": 0.14,
    "jump": 0.1,
    "arm_swing": 0.14,
    "turn": 0.1,
    "sit": 0.1,
    "dance": 0.14,
}


def _zeros(t: np.ndarray) -> np.ndarray:
    return np.zeros((t.shape[0], N_COLS), dtype=np.float64)


def _set(pose: np.ndarray, name: str, value: np.ndarray | float) -> None:
    pose[:, COL[name]] = value


def _gait(
    t: np.ndarray, rng: np.random.Generator, body: Body, *, run: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    freq = rng.uniform(0.045, 0.065) if run else rng.uniform(0.03, 0.045)  # cycles per frame
    amp = (rng.uniform(32, 45) if run else rng.uniform(18, 28)) * _D
    phase = 2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)
    pose = _zeros(t)
    for k, ph in (("l", phase), ("r", phase + np.pi)):
        _set(pose, f"hip_flex_{k}", amp * np.sin(ph) + 8 * _D)
        swing = np.clip(np.sin(ph + 1.2), 0, None)
        _set(pose, f"knee_{k}", (12 + (85 if run else 45) * swing) * _D)
        arm = -0.9 * amp * np.sin(ph)
        _set(pose, f"sho_flex_{k}", arm + (10 if run else 0) * _D)
        _set(pose, f"sho_abd_{k}", rng.uniform(4, 12) * _D)
        _set(
            pose,
            f"elbow_{k}",
            (rng.uniform(70, 100) if run else rng.uniform(10, 30)) * _D + 0.3 * arm * run,
        )
    _set(pose, "lean", (rng.uniform(8, 16) if run else rng.uniform(0, 6)) * _D)
    _set(pose, "side_bend", 3 * _D * np.sin(phase))
    _set(pose, "head_pitch", rng.uniform(-5, 10) * _D)
    if run:
        _set(pose, "air", 0.03 * np.clip(np.sin(2 * phase), 0, None))
    step = 2 * (body.thigh + body.shank) * np.sin(amp) * (1.15 if run else 1.0)
    speed = np.full(t.shape, 2 * step * freq)
    return pose, speed, np.zeros(t.shape)


def walk(
    t: np.ndarray, rng: np.random.Generator, body: Body
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _gait(t, rng, body, run=False)


def run(
    t: np.ndarray, rng: np.random.Generator, body: Body
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return _gait(t, rng, body, run=True)


def jump(
    t: np.ndarray, rng: np.random.Generator, body: Body
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    period = rng.uniform(18, 28)
    p = ((t + rng.uniform(0, period)) / period) % 1.0
    crouch = np.where(p < 0.3, np.sin(np.pi * p / 0.3), 0.0) + np.where(
        p > 0.8, np.sin(np.pi * (p - 0.8) / 0.2), 0.0
    )
    airborne = np.where((p >= 0.3) & (p <= 0.8), np.sin(np.pi * (p - 0.3) / 0.5), 0.0)
    pose = _zeros(t)
    height = rng.uniform(0.08, 0.2)
    tuck = rng.uniform(0, 60) * _D
    for k in ("l", "r"):
        _set(pose, f"hip_flex_{k}", 55 * _D * crouch + tuck * airborne)
        _set(pose, f"knee_{k}", 95 * _D * crouch + 1.5 * tuck * airborne)
        _set(pose, f"sho_flex_{k}", -40 * _D * crouch + 160 * _D * airborne)
        _set(pose, f"sho_abd_{k}", 10 * _D + 30 * _D * airborne)
        _set(pose, f"elbow_{k}", 20 * _D)
    _set(pose, "lean", 30 * _D * crouch)
    _set(pose, "air", height * airborne)
    _set(pose, "head_pitch", 10 * _D * crouch)
    return pose, np.zeros(t.shape), np.zeros(t.shape)


def arm_swing(
    t: np.ndarray, rng: np.random.Generator, body: Body
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    style = int(rng.integers(0, 3))  # 0 wave, 1 jumping jack, 2 windmill/boxing
    freq = rng.uniform(0.03, 0.07)
    ph = 2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)
    pose = _zeros(t)
    knee = rng.uniform(0, 15) * _D
    for k in ("l", "r"):
        _set(pose, f"knee_{k}", knee)
        _set(pose, f"hip_flex_{k}", knee * 0.5)
    if style == 0:
        k = "l" if rng.random() < 0.5 else "r"
        o = "r" if k == "l" else "l"
        _set(pose, f"sho_abd_{k}", (120 + 25 * np.sin(ph)) * _D)
        _set(pose, f"sho_flex_{k}", 20 * _D)
        _set(pose, f"elbow_{k}", (45 + 40 * np.sin(ph)) * _D)
        _set(pose, f"sho_abd_{o}", 8 * _D)
        _set(pose, f"elbow_{o}", 15 * _D)
    elif style == 1:
        open_ = 0.5 + 0.5 * np.sin(ph)
        for k in ("l", "r"):
            _set(pose, f"sho_abd_{k}", (10 + 150 * open_) * _D)
            _set(pose, f"elbow_{k}", 10 * _D)
            _set(pose, f"hip_abd_{k}", 25 * _D * open_)
        _set(pose, "air", 0.04 * np.abs(np.sin(ph)))
    else:
        for k, shift in (("l", 0.0), ("r", np.pi)):
            _set(pose, f"sho_flex_{k}", (70 + 70 * np.sin(ph + shift)) * _D)
            _set(pose, f"sho_abd_{k}", (20 + 15 * np.cos(ph + shift)) * _D)
            _set(pose, f"elbow_{k}", (60 + 55 * np.cos(ph + shift)) * _D)
    _set(pose, "side_bend", 6 * _D * np.sin(ph))
    _set(pose, "head_yaw", 20 * _D * np.sin(0.5 * ph))
    return pose, np.zeros(t.shape), np.zeros(t.shape)


def turn(
    t: np.ndarray, rng: np.random.Generator, body: Body
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turning on the spot (slow steps) with some arm motion."""
    pose, speed, _ = _gait(t, rng, body, run=False)
    pose[:, [COL["hip_flex_l"], COL["hip_flex_r"], COL["knee_l"], COL["knee_r"]]] *= 0.4
    rate = rng.choice([-1.0, 1.0]) * rng.uniform(3, 9) * _D
    return pose, 0.15 * speed, np.full(t.shape, rate)


def sit(
    t: np.ndarray, rng: np.random.Generator, body: Body
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sit down (over ~12 frames), stay seated gesturing, stand up near the end."""
    n = t.shape[0]
    rel = t - t[0]
    down = np.clip(rel / 12.0, 0, 1)
    up = np.clip((n - 1 - rel) / 12.0, 0, 1) if rng.random() < 0.5 else np.ones(n)
    s = 0.5 - 0.5 * np.cos(np.pi * np.minimum(down, up))
    pose = _zeros(t)
    ph = 2 * np.pi * rng.uniform(0.02, 0.05) * t
    for k, shift in (("l", 0.0), ("r", 1.3)):
        _set(pose, f"hip_flex_{k}", rng.uniform(80, 95) * _D * s)
        _set(pose, f"knee_{k}", rng.uniform(80, 100) * _D * s)
        _set(pose, f"hip_abd_{k}", rng.uniform(0, 15) * _D * s)
        _set(pose, f"sho_flex_{k}", (25 + 30 * np.sin(ph + shift)) * _D * s)
        _set(pose, f"elbow_{k}", (50 + 40 * np.sin(ph + shift)) * _D * s + 10 * _D)
    _set(pose, "lean", rng.uniform(0, 20) * _D * s)
    _set(pose, "head_yaw", 25 * _D * np.sin(0.7 * ph))
    return pose, np.zeros(n), np.zeros(n)


def dance(
    t: np.ndarray, rng: np.random.Generator, body: Body
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth random motion inside the joint limits (covers poses the others miss)."""
    pose = _zeros(t)
    centre = {
        "sho_flex": (20, 60),
        "sho_abd": (30, 50),
        "elbow": (50, 50),
        "hip_flex": (20, 25),
        "knee": (25, 25),
        "hip_abd": (8, 10),
    }
    for name, (mid, amp) in centre.items():
        for k in ("l", "r"):
            freq = rng.uniform(0.015, 0.05)
            ph = rng.uniform(0, 2 * np.pi)
            _set(pose, f"{name}_{k}", (mid + amp * np.sin(2 * np.pi * freq * t + ph)) * _D)
    _set(pose, "lean", (8 + 10 * np.sin(2 * np.pi * rng.uniform(0.01, 0.03) * t)) * _D)
    _set(pose, "side_bend", 10 * _D * np.sin(2 * np.pi * rng.uniform(0.01, 0.04) * t))
    _set(pose, "head_yaw", 30 * _D * np.sin(2 * np.pi * rng.uniform(0.01, 0.03) * t))
    rate = rng.uniform(-3, 3) * _D
    return pose, np.zeros(t.shape), np.full(t.shape, rate)


_FUNCS: dict[str, MotionFn] = {
    "walk": walk,
    "run": run,
    "jump": jump,
    "arm_swing": arm_swing,
    "turn": turn,
    "sit": sit,
    "dance": dance,
}


def _smooth_noise(rng: np.random.Generator, n: int, cols: int, scale: float) -> np.ndarray:
    """Low-frequency noise (n, cols): random values every 10 frames, linearly interpolated."""
    knots = rng.normal(0.0, scale, size=(n // 10 + 2, cols))
    x = np.arange(n) / 10.0
    i = np.floor(x).astype(int)
    w = (x - i)[:, None]
    return knots[i] * (1 - w) + knots[i + 1] * w


def sample_program(
    rng: np.random.Generator, frames: int, body: Body
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Pose (F, N_COLS), speed (F,), yaw rate (F,), motion names, seated flags (F,)."""
    names = list(MOTIONS)
    probs = np.array([MOTIONS[n] for n in names])
    probs /= probs.sum()
    n_seg = int(rng.integers(1, max(1, min(3, frames // 25)) + 1))
    cuts = np.sort(rng.choice(np.arange(10, max(11, frames - 10)), size=n_seg - 1, replace=False))
    bounds = [0, *[int(c) for c in cuts], frames]
    pose = np.zeros((frames, N_COLS))
    speed = np.zeros(frames)
    yaw_rate = np.zeros(frames)
    weight = np.zeros(frames)
    sit_weight = np.zeros(frames)
    used: list[str] = []
    fade = 8
    t_all = np.arange(frames, dtype=np.float64)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        name = str(rng.choice(names, p=probs))
        used.append(name)
        lo, hi = max(0, a - fade), min(frames, b + fade)
        t = t_all[lo:hi]
        p, s, y = _FUNCS[name](t, rng, body)
        w = np.ones(hi - lo)
        ramp_in = np.clip((t - (a - fade)) / (2 * fade), 0, 1) if a > 0 else 1.0
        ramp_out = np.clip(((b + fade) - t) / (2 * fade), 0, 1) if b < frames else 1.0
        w = w * ramp_in * ramp_out
        pose[lo:hi] += w[:, None] * p
        speed[lo:hi] += w * s
        yaw_rate[lo:hi] += w * y
        weight[lo:hi] += w
        if name == "sit":
            sit_weight[lo:hi] += w
    weight = np.maximum(weight, 1e-6)
    pose /= weight[:, None]
    speed /= weight
    yaw_rate /= weight
    pose += _smooth_noise(rng, frames, N_COLS, 4 * _D) * (np.arange(N_COLS) < N_COLS - 1)
    seated = sit_weight / weight > 0.5
    return clip_pose(pose), speed, yaw_rate, used, seated
