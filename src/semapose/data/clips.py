"""Clip sampling and the torch Dataset of person-centred clips.

A sample is one person (GT or detection) in one key frame. Its clip has
``T = 1 + len(cfg.data.offsets)`` frames ordered by offset with the key frame in
order (``key_index`` = number of negative offsets). Neighbour indices outside the
sequence are clipped to its ends (the border frame repeats). Every frame is cropped
with the key frame's box (x ``bbox_enlarge``, aspect-preserving) and gets the same
augmentation (one affine matrix per clip), so the model sees one stable window.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from semapose.config import Config
from semapose.data._parse import path_exists
from semapose.data.boxes import Detection
from semapose.data.codec import HeatmapCodec
from semapose.data.records import FrameRecord, Person
from semapose.data.transforms import (
    Augmentation,
    box_to_center_scale,
    crop,
    flip_joints,
    get_affine_matrix,
    half_body_center_scale,
    normalize_image,
    sample_augmentation,
    transform_points,
)
from semapose.errors import InputError


def clip_offsets(offsets: list[int] | tuple[int, ...]) -> tuple[list[int], int]:
    """Sorted offsets with the key frame (0) inserted, and the key frame's position."""
    full = sorted([0, *[int(o) for o in offsets if o != 0]])
    return full, full.index(0)


def draw_offsets(
    offsets: list[int] | tuple[int, ...], max_offset: int, rng: np.random.Generator
) -> list[int]:
    """Random supporting offsets: each keeps its sign, magnitude uniform in [1, max_offset],
    and their order (nearest to the key frame stays nearest)."""
    neg = sum(1 for o in offsets if o < 0)
    pos = sum(1 for o in offsets if o > 0)
    mn = np.sort(rng.integers(1, max_offset + 1, size=neg))[::-1]
    mp = np.sort(rng.integers(1, max_offset + 1, size=pos))
    return [-int(m) for m in mn] + [int(m) for m in mp]


def clip_frame_indices(key: int, offsets: list[int], first: int, last: int) -> list[int]:
    """Frame indices ``key + o`` clipped to ``[first, last]`` (``offsets`` include 0)."""
    return [int(min(max(key + o, first), last)) for o in offsets]


def frame_path(rec: FrameRecord, index: int) -> Path:
    """Path of frame ``index`` of ``rec``'s sequence, derived from ``rec``'s own file name
    (same folder, same digit count, same 0/1-based numbering)."""
    stem = rec.image_path.stem
    if not (stem.isascii() and stem.isdigit()):
        return rec.image_path
    offset = int(rec.extra.get("name_offset", 0))
    return rec.image_path.with_name(f"{index + offset:0{len(stem)}d}{rec.image_path.suffix}")


def read_rgb(path: Path) -> np.ndarray:
    """Decode an image file to uint8 RGB; a missing or unreadable file is an InputError."""
    if not path_exists(path):  # checked first: OpenCV would also print its own warning line
        raise InputError(path, "", "a readable image file", "no such file")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(path, "", "a readable image file", "not a decodable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@dataclass
class Sample:
    record: int  # index into records
    person: int  # index into the record's persons, -1 for a detection
    box: np.ndarray
    score: float
    track_id: int


class PoseTrackClipDataset(Dataset[dict[str, Any]]):
    """Person clips from :class:`FrameRecord` lists.

    * ``train=True``: one sample per annotated person (with >= 1 visible joint) in the
      labeled key frames, augmented; offsets random per ``__getitem__`` when
      ``cfg.data.random_offset_max > 0``.
    * ``train=False`` and ``detections`` given (from :func:`semapose.data.boxes.attach_boxes`):
      one sample per detected box; targets are those of no person (weight 0).
    * ``train=False`` without detections: one sample per GT person box, no augmentation.

    Items: ``images`` (T,3,H,W) float32, ``heatmaps`` (T,J,h,w), ``target_weights`` (T,J),
    ``key_index`` int, ``meta`` dict (center, scale, rotation, flip, image_path, sequence,
    frame_index, frame_indices, track_id, box_score, image_id) — enough to map heatmaps back
    with :func:`semapose.data.transforms.invert_points`.
    """

    def __init__(
        self,
        records: list[FrameRecord],
        cfg: Config,
        train: bool,
        detections: dict[int, list[Detection]] | None = None,
    ) -> None:
        self.records = records
        self.cfg = cfg
        self.train = train
        d = cfg.data
        self.image_size = (int(d.image_size[0]), int(d.image_size[1]))
        self.codec = HeatmapCodec(self.image_size, d.heatmap_stride, d.sigma)
        self.offsets, self.key_index = clip_offsets(d.offsets)
        self.num_joints = cfg.model.num_joints
        # sequence -> frame_index -> record index, and each sequence's frame range
        self.frames: dict[str, dict[int, int]] = {}
        for i, r in enumerate(records):
            self.frames.setdefault(r.sequence, {})[r.frame_index] = i
        self._next_rng: np.random.Generator | None = None
        if d.num_workers > 0:
            # OpenCV's thread pool is not fork-safe: a worker forked after the parent used
            # it can hang in cv2.warpAffine (pytorch/pytorch#1355, opencv/opencv#5150).
            # With workers, the workers are the parallelism, so cv2 runs single-threaded.
            cv2.setNumThreads(0)
        self.samples: list[Sample] = []
        for i, r in enumerate(records):
            if detections is not None:
                for det in detections.get(i, []):
                    self.samples.append(Sample(i, -1, det.box, det.score, -1))
                continue
            if train and d.labeled_only and not r.is_labeled:
                continue
            for k, p in enumerate(r.persons):
                box = p.best_box()
                if box is None or (train and p.num_visible == 0):
                    continue
                if box[2] <= 0 or box[3] <= 0:
                    continue
                self.samples.append(Sample(i, k, box, p.score, p.track_id))

    def __len__(self) -> int:
        return len(self.samples)

    def frame_range(self, rec: FrameRecord) -> tuple[int, int]:
        """First and last frame index of ``rec``'s sequence."""
        known = self.frames[rec.sequence]
        if rec.nframes > 0:
            return 0, max(rec.nframes - 1, max(known))
        return min(known), max(known)

    def set_rng(self, rng: np.random.Generator) -> None:
        """Use ``rng`` for the next ``__getitem__`` (the trainer's per-item seeding hook)."""
        self._next_rng = rng

    def _rng(self, index: int) -> np.random.Generator:
        rng = getattr(self, "_next_rng", None)
        if rng is not None:
            self._next_rng = None
            return rng  # type: ignore[no-any-return]
        # torch's RNG is seeded per worker and per epoch by the DataLoader, so draws differ
        # between epochs and workers yet are reproducible under torch.manual_seed.
        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
        return np.random.default_rng([seed, index])

    def __getitem__(self, index: int) -> dict[str, Any]:
        s = self.samples[index]
        rec = self.records[s.record]
        d = self.cfg.data
        rng = self._rng(index)
        offsets = self.offsets
        if self.train and d.random_offset_max > 0:
            offsets, _ = clip_offsets(draw_offsets(d.offsets, d.random_offset_max, rng))
        first, last = self.frame_range(rec)
        indices = clip_frame_indices(rec.frame_index, offsets, first, last)

        center, scale = box_to_center_scale(s.box, self.image_size, d.bbox_enlarge)
        aug = Augmentation()
        key_person = rec.persons[s.person] if s.person >= 0 else None
        if self.train:
            aug = sample_augmentation(
                rng, d.flip_prob, d.rotation, d.rotation_prob, d.scale, d.half_body_prob
            )
            if aug.half_body and key_person is not None:
                hb = half_body_center_scale(
                    key_person.keypoints, key_person.visibility, rng, self.image_size
                )
                if hb is not None:
                    center, scale = hb
            scale = scale * aug.scale_factor
        matrix = get_affine_matrix(center, scale, aug.rotation, self.image_size, aug.flip)

        images = []
        heatmaps = []
        weights = []
        decoded: dict[Path, np.ndarray] = {}  # each file decoded once per sample
        for t, fi in enumerate(indices):
            frec_idx = self.frames[rec.sequence].get(fi)
            frec = self.records[frec_idx] if frec_idx is not None else None
            path = frec.image_path if frec is not None else frame_path(rec, fi)
            if path not in decoded:
                decoded[path] = crop(read_rgb(path), matrix, self.image_size)
            images.append(normalize_image(decoded[path]))
            person = key_person if t == self.key_index else self._same_track(frec, s.track_id)
            hm, w = self._targets(person, matrix, aug.flip)
            heatmaps.append(hm)
            weights.append(w)

        meta = {
            "center": center.astype(np.float64),
            "scale": scale.astype(np.float64),
            "rotation": float(aug.rotation),
            "flip": bool(aug.flip),
            "image_path": str(rec.image_path),
            "sequence": rec.sequence,
            "frame_index": int(rec.frame_index),
            "frame_indices": np.asarray(indices, dtype=np.int64),
            "track_id": int(s.track_id),
            "box_score": float(s.score),
            "image_id": int(rec.image_id),
            "record_index": int(s.record),
            "person_index": int(s.person),
        }
        return {
            "images": torch.from_numpy(np.stack(images)),
            "heatmaps": torch.from_numpy(np.stack(heatmaps)),
            "target_weights": torch.from_numpy(np.stack(weights)),
            "key_index": self.key_index,
            "meta": meta,
        }

    @staticmethod
    def _same_track(frec: FrameRecord | None, track_id: int) -> Person | None:
        if frec is None or track_id < 0:
            return None
        for p in frec.persons:
            if p.track_id == track_id:
                return p
        return None

    def _targets(
        self, person: Person | None, matrix: np.ndarray, flip: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        j = self.num_joints
        if person is None:
            h, w = self.codec.heatmap_size
            return np.zeros((j, h, w), np.float32), np.zeros(j, np.float32)
        pts = transform_points(person.keypoints[:j], matrix)
        vis = person.visibility[:j]
        if flip:
            pts, vis = flip_joints(pts, axis=0), flip_joints(vis, axis=0)
        return self.codec.encode(pts, vis)


__all__ = [
    "PoseTrackClipDataset",
    "clip_offsets",
    "draw_offsets",
    "clip_frame_indices",
    "frame_path",
    "read_rgb",
]
