"""Strict point-in-polygon test with the semantics of shapely's ``Polygon.contains(Point)``.

poseval drops keypoints that lie inside a frame's ignore regions using shapely
(GEOS). GEOS decides with a ray-crossing counter: a point on the boundary is not
contained, a point inside is contained when the number of edges crossed by a ray
to its right is odd (so self-intersecting rings behave even-odd). The orientation
test is exact (a floating-point filter, then exact rational arithmetic for the
rare near-collinear cases), as GEOS's robust predicate is. Vectorised over
(point, edge) pairs, in chunks of points so that memory stays bounded (about
``MAX_PAIRS`` pairs, tens of MB) whatever the number of people in a frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

#: (point, edge) pairs tested at once (at most ~100 bytes of temporaries each)
MAX_PAIRS = 1 << 19

#: Shewchuk's error bound for the float orientation filter, (3 + 16 eps) eps.
_CCW_ERRBOUND = (3.0 + 16.0 * np.finfo(np.float64).eps) * np.finfo(np.float64).eps


def _orientation(
    ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray, px: np.ndarray, py: np.ndarray
) -> np.ndarray:
    """Sign of (b - a) x (p - a): 1 left (counter-clockwise), -1 right, 0 collinear; exact."""
    left = (bx - ax) * (py - ay)
    right = (by - ay) * (px - ax)
    det = left - right
    sign = np.sign(det).astype(np.int64)
    unsure = np.flatnonzero(np.abs(det) <= _CCW_ERRBOUND * (np.abs(left) + np.abs(right)))
    for k in unsure:
        f = [Fraction(float(v[k])) for v in (ax, ay, bx, by, px, py)]
        exact = (f[2] - f[0]) * (f[5] - f[1]) - (f[3] - f[1]) * (f[4] - f[0])
        sign[k] = (exact > 0) - (exact < 0)
    return sign


def _ring_edges(poly: np.ndarray) -> np.ndarray:
    """(E, 4) edges x1, y1, x2, y2 of the closed ring through ``poly``'s vertices."""
    poly = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
    if len(poly) == 0:
        return np.zeros((0, 4))
    if not np.array_equal(poly[0], poly[-1]):
        poly = np.concatenate([poly, poly[:1]], axis=0)
    return np.concatenate([poly[:-1], poly[1:]], axis=1)


def points_in_polygons(px: np.ndarray, py: np.ndarray, polys: Sequence[np.ndarray]) -> np.ndarray:
    """Boolean mask: which points lie strictly inside at least one of the polygons.

    Each polygon is a (K, 2) vertex array, closed implicitly; an empty one
    contains nothing.
    """
    px = np.asarray(px, dtype=np.float64).reshape(-1, 1)
    py = np.asarray(py, dtype=np.float64).reshape(-1, 1)
    n = len(px)
    edge_list = [_ring_edges(p) for p in polys]
    sizes = [len(e) for e in edge_list]
    if n == 0 or sum(sizes) == 0:
        return np.zeros(n, dtype=bool)
    edges = np.concatenate(edge_list, axis=0)
    step = max(1, MAX_PAIRS // len(edges))
    return np.concatenate(
        [_inside(px[i : i + step], py[i : i + step], edges, sizes) for i in range(0, n, step)]
    )


def _inside(px: np.ndarray, py: np.ndarray, edges: np.ndarray, sizes: list[int]) -> np.ndarray:
    """:func:`points_in_polygons` for points (N, 1) and the rings' concatenated edges."""
    x1, y1, x2, y2 = (edges[:, k][None, :] for k in range(4))
    skip = (x1 < px) & (x2 < px)  # segment strictly left of the point
    vertex = ~skip & (px == x2) & (py == y2)
    live = ~skip & ~vertex
    horizontal = live & (y1 == py) & (y2 == py)
    boundary = vertex | (horizontal & (px >= np.minimum(x1, x2)) & (px <= np.maximum(x1, x2)))
    straddle = live & ~horizontal & (((y1 > py) & (y2 <= py)) | ((y2 > py) & (y1 <= py)))
    crossing = np.zeros_like(straddle)
    pi, ei = np.nonzero(straddle)
    if len(pi):
        e = edges[ei]
        sign = _orientation(e[:, 0], e[:, 1], e[:, 2], e[:, 3], px[pi, 0], py[pi, 0])
        boundary[pi[sign == 0], ei[sign == 0]] = True
        sign = np.where(e[:, 3] < e[:, 1], -sign, sign)
        crossing[pi, ei] = sign == 1
    starts = np.cumsum([0, *sizes[:-1]])
    nonempty = np.array(sizes) > 0
    starts = starts[nonempty]
    on_boundary = np.logical_or.reduceat(boundary, starts, axis=1)
    count = np.add.reduceat(crossing.astype(np.int64), starts, axis=1)
    return (~on_boundary & (count % 2 == 1)).any(axis=1)
