"""Drawing one frame: background view, shaded textured people in depth order, occluders.

People are drawn far to near; inside a person, parts are drawn back to front by
their depth, so arms swing in front of or behind the torso and the far leg is
hidden in side views. Limbs are capsules with cylinder shading (a dark base, a
lit core offset toward the light, a highlight), clothes carry a texture that
moves with the person, and the head has a face (eyes, nose) on the front and
hair on the back, so front/back and left/right can be told apart.

Alongside the colour image a part-label buffer records which part of whom is
on top at each pixel; joint visibility is read from it (``visibility.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from semapose.data.synthetic import skeleton as sk
from semapose.data.synthetic.scene import TEXTURE_ONE, PersonTrack, Scene

SHIFT = 3  # sub-pixel bits for cv2 drawing
_ONE = 1 << SHIFT
PARTS_PER_PERSON = 20
OCCLUDER_LABEL = 60000

# part indices
TORSO, NECK, HEAD, HAIR = 0, 1, 2, 3
L_UARM, R_UARM, L_FARM, R_FARM, L_HANDP, R_HANDP = 4, 5, 6, 7, 8, 9
L_THIGH, R_THIGH, L_SHIN, R_SHIN, L_FOOT, R_FOOT, MARK = 10, 11, 12, 13, 14, 15, 16

# (part, joint a, joint b, radius as a fraction of body height)
_LIMBS: tuple[tuple[int, int, int, float], ...] = (
    (L_UARM, sk.L_SHO, sk.L_ELB, 0.032),
    (R_UARM, sk.R_SHO, sk.R_ELB, 0.032),
    (L_FARM, sk.L_ELB, sk.L_WRI, 0.027),
    (R_FARM, sk.R_ELB, sk.R_WRI, 0.027),
    (L_HANDP, sk.L_WRI, sk.L_HAND, 0.022),
    (R_HANDP, sk.R_WRI, sk.R_HAND, 0.022),
    (L_THIGH, sk.L_HIP, sk.L_KNE, 0.05),
    (R_THIGH, sk.R_HIP, sk.R_KNE, 0.05),
    (L_SHIN, sk.L_KNE, sk.L_ANK, 0.037),
    (R_SHIN, sk.R_KNE, sk.R_ANK, 0.037),
    (L_FOOT, sk.L_ANK, sk.L_TOE, 0.024),
    (R_FOOT, sk.R_ANK, sk.R_TOE, 0.024),
    (NECK, sk.HEAD_BOTTOM, sk.NECK, 0.03),
)
_MAX_RADIUS = 0.1  # of body height: margin of a person's drawing box


@dataclass
class Occluder:
    """An object in front of everything for one frame (image pixels)."""

    kind: int  # 0 bar, 1 box, 2 blob
    center: tuple[float, float]
    size: tuple[float, float]
    angle: float
    color: tuple[int, int, int]
    stripes: int


def person_extent(track: PersonTrack, t: int) -> tuple[float, float, float, float]:
    """x1, y1, x2, y2 of everything drawn for a person (unclipped)."""
    pts = track.points[t]
    margin = _MAX_RADIUS * track.body.height * track.body.limb_scale * float(track.px_per_m[t])
    head_r = 0.5 * track.body.head * float(track.px_per_m[t])
    margin = max(margin, head_r)
    return (
        float(pts[:, 0].min() - margin),
        float(pts[:, 1].min() - margin),
        float(pts[:, 0].max() + margin),
        float(pts[:, 1].max() + margin),
    )


@functools.lru_cache(maxsize=4096)
def _shade(color: tuple[int, int, int], k: float) -> tuple[int, int, int]:
    return (min(255, int(color[0] * k)), min(255, int(color[1] * k)), min(255, int(color[2] * k)))


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(float(p[0]) * _ONE)), int(round(float(p[1]) * _ONE))


class _Painter:
    """Draws one person into a region of interest of the frame, mask and labels."""

    def __init__(self, img: np.ndarray, label: np.ndarray, origin: np.ndarray, light: np.ndarray):
        self.img, self.label = img, label
        self.origin = origin
        self.ox, self.oy = float(origin[0]), float(origin[1])
        self.light = light
        self.lx, self.ly = float(light[0]), float(light[1])

    def capsule(
        self,
        a: Sequence[float] | np.ndarray,
        b: Sequence[float] | np.ndarray,
        r: float,
        color: tuple[int, int, int],
        lid: int,
    ) -> None:
        ax, ay = float(a[0]) - self.ox, float(a[1]) - self.oy
        bx, by = float(b[0]) - self.ox, float(b[1]) - self.oy
        th = max(1, int(round(2 * r)))
        nx, ny = ay - by, bx - ax
        norm = (nx * nx + ny * ny) ** 0.5
        if norm > 1e-6:
            nx, ny = nx / norm, ny / norm
        else:
            nx, ny = 0.0, -1.0
        if nx * self.lx + ny * self.ly < 0:
            nx, ny = -nx, -ny
        pa = (int(ax * _ONE + 0.5), int(ay * _ONE + 0.5))
        pb = (int(bx * _ONE + 0.5), int(by * _ONE + 0.5))
        cv2.line(self.img, pa, pb, _shade(color, 0.55), th, cv2.LINE_AA, SHIFT)
        o = r * 0.22 * _ONE
        ox, oy = int(nx * o), int(ny * o)
        cv2.line(
            self.img,
            (pa[0] + ox, pa[1] + oy),
            (pb[0] + ox, pb[1] + oy),
            color,
            max(1, int(round(1.45 * r))),
            cv2.LINE_8,
            SHIFT,
        )
        if r >= 2.0:
            ox, oy = int(nx * o * 2.3), int(ny * o * 2.3)
            cv2.line(
                self.img,
                (pa[0] + ox, pa[1] + oy),
                (pb[0] + ox, pb[1] + oy),
                _shade(color, 1.3),
                max(1, int(round(0.5 * r))),
                cv2.LINE_8,
                SHIFT,
            )
        cv2.line(self.label, pa, pb, lid, th, cv2.LINE_8, SHIFT)

    def ellipse(
        self,
        c: np.ndarray,
        axes: tuple[float, float],
        angle: float,
        color: tuple[int, int, int],
        lid: int,
        shade: bool = True,
    ) -> None:
        c = c - self.origin
        ax = (max(1, int(axes[0] * _ONE)), max(1, int(axes[1] * _ONE)))
        cv2.ellipse(
            self.img,
            _pt(c),
            ax,
            angle,
            0,
            360,
            _shade(color, 0.6) if shade else color,
            -1,
            cv2.LINE_AA,
            SHIFT,
        )
        if shade:
            off = self.light * min(axes) * 0.25
            ax2 = (max(1, int(axes[0] * 0.75 * _ONE)), max(1, int(axes[1] * 0.75 * _ONE)))
            cv2.ellipse(self.img, _pt(c + off), ax2, angle, 0, 360, color, -1, cv2.LINE_AA, SHIFT)
        cv2.ellipse(self.label, _pt(c), ax, angle, 0, 360, lid, -1, cv2.LINE_8, SHIFT)

    def polygon(self, pts: np.ndarray, color: tuple[int, int, int], lid: int) -> None:
        p = np.round((pts - self.origin) * _ONE).astype(np.int32)
        cv2.fillConvexPoly(self.img, p, color, cv2.LINE_AA, SHIFT)
        cv2.fillConvexPoly(self.label, p, lid, cv2.LINE_8, SHIFT)


@functools.lru_cache(maxsize=8)
def part_codes(long_sleeves: bool, shorts: bool) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Label offsets per part with the textured clothing parts first.

    Returns (code of each part, part of each code, number of clothing codes): a
    person's clothing is then one label range, found with one ``cv2.inRange``.
    """
    cloth = [TORSO, L_UARM, R_UARM, L_THIGH, R_THIGH]
    if long_sleeves:
        cloth += [L_FARM, R_FARM]
    if not shorts:
        cloth += [L_SHIN, R_SHIN]
    order = cloth + [p for p in range(PARTS_PER_PERSON) if p not in cloth]
    code = [0] * PARTS_PER_PERSON
    for c, p in enumerate(order):
        code[p] = c
    return tuple(code), tuple(order), len(cloth)


def draw_person(
    frame: np.ndarray, label: np.ndarray, track: PersonTrack, slot: int, t: int, light: np.ndarray
) -> bool:
    """Draw ``track`` at frame ``t``; False when it is entirely off the image."""
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = person_extent(track, t)
    ix1, iy1 = max(0, int(np.floor(x1))), max(0, int(np.floor(y1)))
    ix2, iy2 = min(w, int(np.ceil(x2)) + 1), min(h, int(np.ceil(y2)) + 1)
    if ix2 - ix1 < 2 or iy2 - iy1 < 2:
        return False
    img = frame[iy1:iy2, ix1:ix2]
    lab = label[iy1:iy2, ix1:ix2]
    painter = _Painter(img, lab, np.array([ix1, iy1], dtype=np.float64), light)
    pts = track.points[t]
    dep = track.depth[t]
    plist: list[list[float]] = pts.tolist()
    dlist: list[float] = dep.tolist()
    ppm = float(track.px_per_m[t])
    body, look = track.body, track.look
    base = 1 + slot * PARTS_PER_PERSON
    code, _, n_cloth = part_codes(look.long_sleeves, look.shorts)
    items: list[tuple[float, int, object]] = []  # (depth, part, drawer)
    for part, ja, jb, rad in _LIMBS:
        r = rad * body.height * body.limb_scale * ppm
        if part in (L_UARM, R_UARM):
            color = look.shirt
        elif part in (L_FARM, R_FARM):
            color = look.shirt if look.long_sleeves else look.skin
        elif part in (L_THIGH, R_THIGH):
            color = look.pants
        elif part in (L_SHIN, R_SHIN):
            color = look.skin if look.shorts else look.pants
        elif part in (L_FOOT, R_FOOT):
            color = look.shoes
        else:
            color = look.skin
        items.append((0.5 * (dlist[ja] + dlist[jb]), part, ("capsule", ja, jb, r, color)))
    torso_depth = float(dep[[sk.L_SHO, sk.R_SHO, sk.L_HIP, sk.R_HIP]].mean())
    items.append((torso_depth, TORSO, ("torso",)))
    chest_front = float(dep[sk.CHEST]) < torso_depth
    if chest_front:
        items.append((float(dep[sk.CHEST]), MARK, ("mark",)))
    hc, hf = pts[sk.HEAD_CENTER], pts[sk.HEAD_FWD]
    head_depth = float(dep[sk.HEAD_CENTER])
    back = float(dep[sk.HEAD_CENTER] - dep[sk.HEAD_FWD])  # > 0 when facing the camera
    items.append((head_depth, HEAD, ("head",)))
    items.append((head_depth + 0.35 * back + 1e-4, HAIR, ("hair",)))
    items.sort(key=lambda it: (-it[0], it[1]))
    if track.seated is not None and track.seat is not None and track.seated[t]:
        _stool(
            img,
            pts[sk.PELVIS] - painter.origin,
            track.seat[t] - painter.origin,
            body.height * 0.13 * ppm,
        )
    head_px = body.head * ppm
    axis = pts[sk.HEAD_TOP] - pts[sk.HEAD_BOTTOM]
    angle = float(np.degrees(np.arctan2(axis[1], axis[0]))) + 90.0
    for _, part, spec in items:
        kind = spec[0]  # type: ignore[index]
        lid = base + code[part]
        if kind == "capsule":
            _, ja, jb, r, color = spec  # type: ignore[misc]
            painter.capsule(plist[ja], plist[jb], r, color, lid)
        elif kind == "torso":
            r_arm = 0.032 * body.height * body.limb_scale * ppm
            ls, rs, lh, rh = pts[sk.L_SHO], pts[sk.R_SHO], pts[sk.L_HIP], pts[sk.R_HIP]
            sh_dir = ls - rs
            n = float(np.hypot(*sh_dir))
            sh_dir = sh_dir / n if n > 1e-6 else np.zeros(2)
            hp_dir = lh - rh
            n = float(np.hypot(*hp_dir))
            hp_dir = hp_dir / n if n > 1e-6 else np.zeros(2)
            quad = np.stack(
                [ls + sh_dir * r_arm, rs - sh_dir * r_arm, rh - hp_dir * r_arm, lh + hp_dir * r_arm]
            )
            painter.capsule(
                pts[sk.PELVIS], pts[sk.NECK], 0.5 * body.torso_depth * ppm, look.shirt, lid
            )
            painter.polygon(quad, look.shirt, lid)
            painter.capsule(
                0.5 * (ls + rs), 0.5 * (lh + rh), 0.25 * body.shoulder_width * ppm, look.shirt, lid
            )
        elif kind == "mark":
            painter.ellipse(
                pts[sk.CHEST],
                (0.05 * body.height * ppm, 0.04 * body.height * ppm),
                0.0,
                look.mark,
                lid,
                shade=False,
            )
        elif kind == "head":
            painter.ellipse(hc, (0.36 * head_px, 0.5 * head_px), angle, look.skin, lid)
            er = max(0.6, 0.045 * head_px)
            if back > 0:  # facing the camera: eyes
                for e in (sk.L_EYE, sk.R_EYE):
                    painter.ellipse(pts[e], (er, er), 0.0, (25, 25, 35), lid, shade=False)
            if back > -0.019:  # nose, also in profile (same test as its visibility)
                painter.ellipse(
                    pts[sk.NOSE],
                    (1.3 * er, 1.3 * er),
                    0.0,
                    _shade(look.skin, 0.8),
                    lid,
                    shade=False,
                )
        else:  # hair: shifted to the back of the head and up
            centre = hc - 0.3 * (hf - hc) + 0.12 * axis
            painter.ellipse(centre, (0.38 * head_px, 0.5 * head_px), angle, look.hair, lid)
    # clothing texture, anchored to the person so it moves with them
    cloth = cv2.inRange(lab, base, base + n_cloth - 1)
    if cv2.countNonZero(cloth):
        tex = look.texture
        ts = tex.shape[0]
        rh, rw = img.shape[:2]
        if rh > ts or rw > ts:  # a person larger than the texture tile: stretch it
            crop = cv2.resize(tex, (rw, rh), interpolation=cv2.INTER_NEAREST)
        else:
            ox = int(np.clip(ts // 2 + ix1 - pts[sk.PELVIS, 0], 0, ts - rw))
            oy = int(np.clip(ts // 2 + iy1 - pts[sk.PELVIS, 1], 0, ts - rh))
            crop = tex[oy : oy + rh, ox : ox + rw]
        textured = cv2.multiply(img, crop, scale=1.0 / TEXTURE_ONE)
        cv2.copyTo(textured, cloth, img)
    return True


def _stool(img: np.ndarray, top: np.ndarray, ground: np.ndarray, half: float) -> None:
    """A plain stool behind a seated person (not a body part: no label)."""
    color = (60, 90, 120)
    th = max(1, int(half * 0.25))
    y = top[1] + 0.5 * th
    for dx in (-half, half):
        cv2.line(
            img,
            _pt(np.array([top[0] + dx, y])),
            _pt(np.array([ground[0] + dx, ground[1]])),
            (40, 60, 80),
            th,
            cv2.LINE_AA,
            SHIFT,
        )
    cv2.line(
        img,
        _pt(np.array([top[0] - 1.2 * half, y])),
        _pt(np.array([top[0] + 1.2 * half, y])),
        color,
        th,
        cv2.LINE_AA,
        SHIFT,
    )


def draw_occluder(frame: np.ndarray, label: np.ndarray, occ: Occluder) -> None:
    cx, cy = occ.center
    sx, sy = occ.size
    c = (int(round(cx * _ONE)), int(round(cy * _ONE)))
    dark = _shade(occ.color, 0.6)
    if occ.kind == 2:
        ax = (max(1, int(sx / 2 * _ONE)), max(1, int(sy / 2 * _ONE)))
        for img, col in ((frame, occ.color), (label, OCCLUDER_LABEL)):
            cv2.ellipse(
                img,
                c,
                ax,
                occ.angle,
                0,
                360,
                col,
                -1,
                cv2.LINE_AA if img is frame else cv2.LINE_8,
                SHIFT,
            )
        cv2.ellipse(
            frame,
            c,
            (ax[0] * 2 // 3, ax[1] * 2 // 3),
            occ.angle,
            0,
            360,
            dark,
            max(1, int(sx / 12)),
            cv2.LINE_AA,
            SHIFT,
        )
        return
    rect = ((cx, cy), (sx, sy), occ.angle)
    box = np.round(cv2.boxPoints(rect) * _ONE).astype(np.int32)
    cv2.fillConvexPoly(frame, box, occ.color, cv2.LINE_AA, SHIFT)
    cv2.fillConvexPoly(label, box, OCCLUDER_LABEL, cv2.LINE_8, SHIFT)
    # stripes along the object for texture
    for k in range(1, occ.stripes + 1):
        f = k / (occ.stripes + 1) - 0.5
        ang = np.radians(occ.angle)
        u = np.array([np.cos(ang), np.sin(ang)])
        v = np.array([-u[1], u[0]])
        a = np.array([cx, cy]) + f * sx * u - 0.5 * sy * v
        b = np.array([cx, cy]) + f * sx * u + 0.5 * sy * v
        cv2.line(
            frame, _pt(a), _pt(b), dark, max(1, int(sx / (4 * occ.stripes + 4))), cv2.LINE_AA, SHIFT
        )


def render_frame(
    scene: Scene, background: np.ndarray, t: int, occluders: list[Occluder]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame ``t``: (image BGR uint8, part labels uint16, background view)."""
    w, h = scene.width, scene.height
    cam = scene.camera
    a = cam.affine(t)
    off = np.array([[1.0, 0.0, -w / 2.0], [0.0, 1.0, -h / 2.0], [0.0, 0.0, 1.0]])
    m = a @ off  # canvas pixel -> scene pixel -> image pixel
    x0, y0 = -m[0, 2], -m[1, 2]
    bh, bw = background.shape[:2]
    if (
        m[0, 0] == 1.0
        and m[1, 1] == 1.0
        and x0 == int(x0)
        and y0 == int(y0)
        and 0 <= x0 <= bw - w
        and 0 <= y0 <= bh - h
    ):
        bg = background[int(y0) : int(y0) + h, int(x0) : int(x0) + w]
    else:
        bg = cv2.warpAffine(
            background, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
    frame = bg.copy()
    label = np.zeros((h, w), np.uint16)
    order = sorted(
        range(len(scene.people)), key=lambda i: (-float(scene.people[i].depth[t, sk.PELVIS]), i)
    )
    for i in order:
        draw_person(frame, label, scene.people[i], i, t, scene.light)
    for occ in occluders:
        draw_occluder(frame, label, occ)
    return frame, label, bg
