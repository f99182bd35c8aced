"""The on-disk store of encoded person crops that ``semapose fit`` trains on: its format,
its schema check and its reader.

Written by :mod:`semapose.fitting.build` (every crop through the frozen backbone once),
read here, so the training side reads the store without the fitting package. Layout
(a folder, written atomically: built in ``NAME.partial`` and renamed):
``index.json`` (version, image size, heatmap stride, feature shape, clips,
provenance), ``inputs.npy`` (N, C, h, w) fp16 features of what the student sees,
``clean.npy`` (M, C, h, w) fp16 clean features of the rows whose input was degraded,
``rows.npz`` (per row: clip, frame, targets in heatmap pixels, target weights,
degradation type/severity, crop centre/scale, image id, row in ``clean.npy`` or -1).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semapose.data.codec import render_targets
from semapose.errors import InputError
from semapose.io.bounded import parse_json_text, read_bounded
from semapose.limits import MAX_JSON_BYTES

__all__ = ["STORE_VERSION", "FeatureStore", "check_feature_store"]

#: ``index.json``'s ``version``
STORE_VERSION = 1
_HINT = "(delete it to build it again)"


class FeatureStore:
    """A built store: clips of rows, and batches of (features, target heatmaps, weights)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        index_file = self.path / "index.json"
        if not index_file.is_file():
            raise InputError(self.path, "index.json", "a feature cache folder", "no index.json")
        self.index = json.loads(index_file.read_text())
        if self.index.get("version") != STORE_VERSION:
            raise InputError(index_file, "version", str(STORE_VERSION), self.index.get("version"))
        self.inputs = np.load(self.path / "inputs.npy", mmap_mode="r")
        self.clean = np.load(self.path / "clean.npy", mmap_mode="r")
        rows = np.load(self.path / "rows.npz")
        self.rows = {k: rows[k] for k in rows.files}
        self.clips: list[dict[str, Any]] = self.index["clips"]
        self.stride = int(self.index["heatmap_stride"])
        h, w = self.index["image_size"]
        self.heatmap_size = (h // self.stride, w // self.stride)
        # row of each (clip, frame)
        self.length = np.zeros(len(self.clips), np.int64)
        for cid, fr in zip(self.rows["clip"], self.rows["frame"], strict=True):
            self.length[cid] = max(self.length[cid], fr + 1)
        self.row_of = [np.full(int(n), -1, np.int64) for n in self.length]
        for r, (cid, fr) in enumerate(zip(self.rows["clip"], self.rows["frame"], strict=True)):
            self.row_of[int(cid)][int(fr)] = r

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def rows_of(self, clip_ids: Iterable[int]) -> np.ndarray:
        ids = set(int(c) for c in clip_ids)
        return np.array([r for r in range(len(self)) if int(self.rows["clip"][r]) in ids], np.int64)

    def window(self, row: int, offsets: Sequence[int]) -> np.ndarray:
        """Rows of the clip ordered by offset around ``row`` (key at offset 0; borders repeat)."""
        cid = int(self.rows["clip"][row])
        fr = int(self.rows["frame"][row])
        n = int(self.length[cid])
        frames = sorted([*offsets, 0])
        return self.row_of[cid][[min(max(fr + o, 0), n - 1) for o in frames]]

    def features(self, rows: np.ndarray, clean: bool = False) -> torch.Tensor:
        """(len(rows), C, h, w) float32; ``clean`` reads the clean version where one exists."""
        order = np.argsort(rows, kind="stable")
        got = np.asarray(self.inputs[rows[order]], dtype=np.float32)
        if clean:
            cr = self.rows["clean_row"][rows[order]]
            has = cr >= 0
            if has.any():
                got[has] = np.asarray(self.clean[cr[has]], dtype=np.float32)
        out = np.empty_like(got)
        out[order] = got
        return torch.from_numpy(out)

    def batch(
        self, keys: np.ndarray, offsets: Sequence[int], sigma: float = 2.0, clean: bool = False
    ) -> dict[str, torch.Tensor]:
        """Clips around ``keys``: ``feats`` (B,T,C,h,w), ``heatmaps`` (B,T,J,h',w'), ``weights``."""
        win = np.stack([self.window(int(r), offsets) for r in keys])  # (B, T)
        b, t = win.shape
        flat = win.reshape(-1)
        feats = self.features(flat, clean).unflatten(0, (b, t))
        kp = torch.from_numpy(self.rows["keypoints"][flat])
        wt = torch.from_numpy(self.rows["weights"][flat])
        heat = render_targets(kp, wt, self.heatmap_size, sigma)
        return {
            "feats": feats,
            "heatmaps": heat.unflatten(0, (b, t)),
            "weights": wt.unflatten(0, (b, t)),
        }


def check_feature_store(folder: Path) -> None:
    """The one schema check of a feature store folder (``index.json``, ``inputs.npy``,
    ``clean.npy``, ``rows.npz``) before :class:`FeatureStore` maps it: InputError naming
    the file and the field."""
    index_file = folder / "index.json"
    index = parse_json_text(read_bounded(index_file, MAX_JSON_BYTES, "a cache index"), index_file)
    if not isinstance(index, dict):
        raise InputError(
            index_file, "top level", f"a cache index object {_HINT}", type(index).__name__
        )
    if index.get("version") != STORE_VERSION:
        raise InputError(index_file, "version", f"{STORE_VERSION} {_HINT}", index.get("version"))

    def positive_ints(key: str, n: int) -> list[int]:
        v = index.get(key)
        if not (
            isinstance(v, list)
            and len(v) == n
            and all(isinstance(x, int) and not isinstance(x, bool) and 0 < x <= 1 << 16 for x in v)
        ):
            raise InputError(index_file, key, f"{n} positive integers {_HINT}", v)
        return v

    stride = index.get("heatmap_stride")
    if not isinstance(stride, int) or isinstance(stride, bool) or not 1 <= stride <= 64:
        raise InputError(index_file, "heatmap_stride", f"an integer from 1 to 64 {_HINT}", stride)
    size = positive_ints("image_size", 2)
    shape = positive_ints("feature_shape", 3)
    if any(s < stride for s in size):
        raise InputError(
            index_file, "image_size", f"sizes of at least heatmap_stride {_HINT}", size
        )
    clips = index.get("clips")
    if not isinstance(clips, list) or not all(isinstance(c, dict) for c in clips):
        raise InputError(
            index_file, "clips", f"a list of clip records {_HINT}", type(clips).__name__
        )
    arrays = {}
    for name in ("inputs.npy", "clean.npy"):
        try:
            arrays[name] = np.load(folder / name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise InputError(
                folder / name, "", f"a complete .npy array {_HINT}", str(exc)[:80]
            ) from None
        a = arrays[name]
        if a.ndim != 4 or list(a.shape[1:]) != shape or a.dtype != np.float16:
            raise InputError(
                folder / name,
                "",
                f"float16 features of shape (N, {', '.join(map(str, shape))}) {_HINT}",
                f"{a.dtype} {a.shape}",
            )
    n = arrays["inputs.npy"].shape[0]
    try:
        with np.load(folder / "rows.npz", allow_pickle=False) as rows:
            cols = {k: rows[k] for k in rows.files}
    except Exception as exc:  # zip/npy errors of every kind: a damaged file
        raise InputError(
            folder / "rows.npz", "", f"a readable .npz file {_HINT}", str(exc)[:80]
        ) from None
    for key in ("clip", "frame", "clean_row", "keypoints", "weights"):
        if key not in cols or len(cols[key]) != n:
            raise InputError(
                folder / "rows.npz",
                key,
                f"{n} rows (one per cached crop) {_HINT}",
                None if key not in cols else len(cols[key]),
            )
    clip, frame, clean_row = cols["clip"], cols["frame"], cols["clean_row"]
    if n and (
        clip.min() < 0 or clip.max() >= len(clips) or frame.min() < 0 or frame.max() > 1 << 24
    ):
        raise InputError(
            folder / "rows.npz", "clip/frame", f"indices of the {len(clips)} clips {_HINT}"
        )
    if n and (clean_row.min() < -1 or clean_row.max() >= arrays["clean.npy"].shape[0]):
        raise InputError(folder / "rows.npz", "clean_row", f"-1 or a row of clean.npy {_HINT}")
    for key in ("keypoints", "weights"):
        if cols[key].dtype.kind != "f" or not np.isfinite(cols[key]).all():
            raise InputError(folder / "rows.npz", key, f"finite numbers {_HINT}")
