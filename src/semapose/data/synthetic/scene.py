"""A video's scene: camera path, people (body, clothes, 3D tracks) and their projection.

Everything a video needs is sampled here from one random generator, up front and
vectorised over frames, so rendering a frame is only drawing. People stand on a
ground plane seen by a pinhole camera (horizon, camera height, focal length);
distance sets their size and height in the image. The camera then pans, zooms
and shakes as a 2D similarity applied to the projected points and to the
background.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from semapose.data.synthetic import skeleton as sk
from semapose.data.synthetic.motions import sample_program
from semapose.data.synthetic.skeleton import (
    N_POINTS,
    Body,
    forward_kinematics,
    sample_body,
    to_world,
)

_D = np.pi / 180.0
TEXTURE_ONE = 128  # texture value that leaves a colour unchanged
MAX_TEXTURE = 1024  # side of the clothing texture tile (bigger people stretch it)


@dataclass
class Appearance:
    """Colours (BGR) and clothing of one person."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    shoes: tuple[int, int, int]
    mark: tuple[int, int, int]  # chest print seen from the front
    long_sleeves: bool
    shorts: bool
    texture: np.ndarray  # (T, T, 3) uint8 clothing texture, multiplier x TEXTURE_ONE


@dataclass
class PersonTrack:
    track_id: int
    body: Body
    look: Appearance
    world: np.ndarray  # (F, N_POINTS, 3) metres
    yaw: np.ndarray  # (F,) body yaw, 0 = facing the camera
    points: np.ndarray  # (F, N_POINTS, 2) image pixels after the camera motion
    depth: np.ndarray  # (F, N_POINTS) distance along the optical axis
    px_per_m: np.ndarray  # (F,) image pixels per metre at the person's pelvis
    motions: list[str] = field(default_factory=list)
    seated: np.ndarray | None = None  # (F,) bool: a stool is drawn under the person
    seat: np.ndarray | None = None  # (F, 2) image point on the ground below the pelvis


@dataclass
class Camera:
    width: int
    height: int
    focal: float
    horizon: float  # image row of the horizon before camera motion
    cam_height: float  # metres above the ground
    zoom: np.ndarray  # (F,)
    pan: np.ndarray  # (F, 2) pixels

    def affine(self, t: int) -> np.ndarray:
        """2x3 matrix: scene pixel -> image pixel for frame ``t``."""
        z = float(self.zoom[t])
        cx, cy = self.width / 2.0, self.height / 2.0
        return np.array(
            [
                [z, 0.0, cx - z * cx + float(self.pan[t, 0])],
                [0.0, z, cy - z * cy + float(self.pan[t, 1])],
            ]
        )


@dataclass
class Scene:
    width: int
    height: int
    frames: int
    camera: Camera
    people: list[PersonTrack]
    light: np.ndarray  # (2,) unit image-plane direction the light comes from
    seed_key: tuple[int, ...]


def _color(
    rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]
) -> tuple[int, int, int]:
    import cv2

    hsv = np.array(
        [[[rng.uniform(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]],
        dtype=np.float32,
    ).astype(np.uint8)
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


_SKINS = (
    (60, 90, 140),
    (90, 130, 190),
    (120, 160, 215),
    (150, 190, 235),
    (45, 65, 100),
    (110, 150, 200),
)
_HAIRS = ((20, 20, 25), (30, 45, 70), (40, 80, 130), (160, 170, 180), (60, 90, 150), (15, 25, 40))


def sample_appearance(rng: np.random.Generator, tex_size: int) -> Appearance:
    skin = _SKINS[int(rng.integers(len(_SKINS)))]
    jitter = rng.integers(-12, 13, size=3)
    skin = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(skin, jitter, strict=True))  # type: ignore[assignment]
    kind = int(rng.integers(0, 4))
    yy, xx = np.mgrid[0:tex_size, 0:tex_size].astype(np.float32)
    if kind == 0:  # plain with fabric grain
        tex = 1.0 + 0.05 * rng.standard_normal((tex_size, tex_size)).astype(np.float32)
    elif kind == 1:  # stripes
        period = rng.uniform(3, 9)
        ang = rng.uniform(0, np.pi)
        phase = (np.cos(ang) * xx + np.sin(ang) * yy) * (2 * np.pi / period)
        tex = 1.0 + 0.22 * np.sign(np.sin(phase)).astype(np.float32)
    elif kind == 2:  # checks
        period = rng.uniform(4, 10)
        tex = 1.0 + 0.18 * (
            np.sign(np.sin(xx * 2 * np.pi / period)) * np.sign(np.sin(yy * 2 * np.pi / period))
        )
    else:  # dots / blotches
        period = rng.uniform(5, 12)
        tex = 1.0 - 0.25 * (
            (np.sin(xx * 2 * np.pi / period) * np.sin(yy * 2 * np.pi / period)) > 0.6
        )
    return Appearance(
        skin=skin,  # type: ignore[arg-type]
        hair=_HAIRS[int(rng.integers(len(_HAIRS)))],
        shirt=_color(rng, (0.2, 0.95), (0.25, 0.95)),
        pants=_color(rng, (0.1, 0.8), (0.15, 0.7)),
        shoes=_color(rng, (0.0, 0.5), (0.05, 0.5)),
        mark=_color(rng, (0.5, 1.0), (0.6, 1.0)),
        long_sleeves=bool(rng.random() < 0.5),
        shorts=bool(rng.random() < 0.3),
        texture=np.repeat(
            np.clip(tex * TEXTURE_ONE + 0.5, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2
        ),
    )


def sample_camera(rng: np.random.Generator, width: int, height: int, frames: int) -> Camera:
    t = np.arange(frames, dtype=np.float64)
    zoom = np.ones(frames)
    pan = np.zeros((frames, 2))
    if rng.random() < 0.45:  # pan
        v = rng.uniform(-1.0, 1.0, size=2) * np.array([0.006, 0.002]) * width
        pan += v[None, :] * (t - frames / 2)[:, None]
    if rng.random() < 0.35:  # zoom
        z0, z1 = rng.uniform(0.92, 1.2, size=2)
        zoom = z0 + (z1 - z0) * t / max(1, frames - 1)
    if rng.random() < 0.35:  # shake
        amp = rng.uniform(0.5, 3.0) * width / 256.0
        pan += amp * rng.standard_normal((frames, 2))
    pan[:, 0] = np.clip(pan[:, 0], -0.25 * width, 0.25 * width)
    pan[:, 1] = np.clip(pan[:, 1], -0.25 * height, 0.25 * height)
    if np.all(zoom == 1.0):  # whole-pixel pans: the background view is a plain crop
        pan = np.round(pan)
    return Camera(
        width=width,
        height=height,
        focal=float(height * rng.uniform(0.9, 1.2)),
        horizon=float(height * rng.uniform(0.22, 0.45)),
        cam_height=float(rng.uniform(0.9, 1.6)),
        zoom=zoom,
        pan=pan,
    )


def _trajectory(
    rng: np.random.Generator,
    speed: np.ndarray,
    yaw_rate: np.ndarray,
    x0: float,
    z0: float,
    x_half: float,
    z_lim: tuple[float, float],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate heading and ground position, steering back when leaving the stage."""
    frames = speed.shape[0]
    if rng.random() < 0.65:
        heading = float(rng.choice([-1.0, 1.0]) * rng.uniform(55, 125) * _D)
    else:
        heading = float(rng.uniform(-np.pi, np.pi))
    xs, zs, hs = np.zeros(frames), np.zeros(frames), np.zeros(frames)
    x, z = x0, z0
    for i in range(frames):
        heading += float(yaw_rate[i])
        if speed[i] > 1e-4:
            fx, fz = np.sin(heading), -np.cos(heading)
            out_x = (x > x_half and fx > 0) or (x < -x_half and fx < 0)
            out_z = (z > z_lim[1] and fz > 0) or (z < z_lim[0] and fz < 0)
            if out_x or out_z:
                tx, tz = -x, 0.5 * (z_lim[0] + z_lim[1]) - z
                want = np.arctan2(tx, -tz)
                diff = (want - heading + np.pi) % (2 * np.pi) - np.pi
                heading += float(np.clip(diff, -10 * _D, 10 * _D))
            x += float(speed[i] * np.sin(heading))
            z += float(-speed[i] * np.cos(heading))
        xs[i], zs[i], hs[i] = x, z, heading
    return xs, zs, hs


def project(camera: Camera, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (F, N, 3) -> image pixels (F, N, 2) with camera motion, and depths (F, N)."""
    z = np.maximum(world[..., 2], 0.3)
    u = camera.width / 2.0 + camera.focal * world[..., 0] / z
    v = camera.horizon + camera.focal * (camera.cam_height - world[..., 1]) / z
    zoom = camera.zoom[:, None]
    cx, cy = camera.width / 2.0, camera.height / 2.0
    u = zoom * (u - cx) + cx + camera.pan[:, 0:1]
    v = zoom * (v - cy) + cy + camera.pan[:, 1:2]
    return np.stack([u, v], axis=-1), z


def sample_scene(
    rng: np.random.Generator, width: int, height: int, frames: int, people: tuple[int, int]
) -> Scene:
    camera = sample_camera(rng, width, height, frames)
    n = int(rng.integers(people[0], people[1] + 1))
    tex_size = int(min(2 * max(width, height), MAX_TEXTURE))
    tracks: list[PersonTrack] = []
    for pid in range(n):
        body = sample_body(rng)
        look = sample_appearance(rng, tex_size)
        pose, speed, yaw_rate, names, seated = sample_program(rng, frames, body)
        # size in the image: 25-90% of the frame height
        frac = rng.uniform(0.25, 0.9)
        z0 = camera.focal * body.height / (frac * height)
        z_lim = (0.8 * z0, 1.25 * z0)
        x_half = 0.42 * width * z0 / camera.focal
        x0 = rng.uniform(-x_half, x_half)
        xs, zs, heading = _trajectory(rng, speed, yaw_rate, x0, z0, x_half, z_lim)
        if speed.max() < 1e-4 and rng.random() < 0.5:  # standing people face anywhere
            heading = heading + rng.uniform(-np.pi, np.pi)
        local = forward_kinematics(body, pose)
        world = to_world(local, heading, xs, zs)
        pts, depth = project(camera, world)
        ground = world[:, sk.PELVIS : sk.PELVIS + 1].copy()
        ground[..., 1] = 0.0
        seat = project(camera, ground)[0][:, 0]
        px_per_m = camera.focal * camera.zoom / np.maximum(zs, 0.3)
        tracks.append(
            PersonTrack(
                track_id=pid,
                body=body,
                look=look,
                world=world,
                yaw=heading,
                points=pts,
                depth=depth,
                px_per_m=px_per_m,
                motions=names,
                seated=seated,
                seat=seat,
            )
        )
    ang = rng.uniform(-2.5, -0.6)  # light from above
    light = np.array([np.cos(ang), np.sin(ang)])
    assert all(t.points.shape == (frames, N_POINTS, 2) for t in tracks)
    return Scene(width, height, frames, camera, tracks, light, ())
