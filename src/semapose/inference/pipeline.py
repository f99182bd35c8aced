"""Streaming temporal inference over a window of cached crop features.

:class:`TemporalRunner` receives frames one at a time, each with its tracked
person boxes, and emits the poses of key frame ``k`` as soon as every supporting
frame ``k + o`` of the clip has arrived (``max(offsets)`` frames later; at once
with ``online=True``).

Feature reuse. The paper crops all T frames of a clip with the *key* frame's
box; then the crop of frame ``f`` depends on the key frame, and a T-frame model
runs the backbone T times per person and frame. Here (``crop="track"``, the
default) every frame is cropped once per person with *that frame's own* track
box, encoded once, cached under ``(frame, track id)`` and read by the T clips
that contain it: one backbone pass per (frame, person) instead of T. The key
frame's crop is exactly the paper's; supporting frames differ only by the box
motion between neighbouring frames (docs/predict.md has the measurement).
``crop="key"`` reproduces the paper's cropping exactly (no reuse) for comparison.

Borders. A slot before the first or after the last frame repeats the nearest
existing frame (the clip convention at sequence borders); a slot in which the
person's track has no box uses the nearest frame, towards the key frame, in
which it has one. ``online=True`` mirrors positive offsets to the past
(``+o -> -o``) so the clip keeps its T slots and key position but uses past
frames only.

Single-frame outputs. A model may offer ``encode_with_outputs(x) -> Mapping``
with ``"features"`` (what ``encode_frames`` returns) and any of ``"pose_score"``
(N,), ``"keypoints"`` (N, J, 2) in crop-input pixels and ``"keypoint_scores"``
(N, J). :meth:`TemporalRunner.push_frame` returns them per track as
:class:`~semapose.inference.results.CropOutput` in image pixels, for the frame
just pushed, so a tracker can use the current frame's pose at once although the
temporal decoder waits ``lookahead`` frames. Only un-flipped crops give them;
``crop="key"`` encodes at emission time and gives none. ``"landmarks"`` (N, L, 4:
crop-pixel x, y, visibility, presence; BlazePose's 33) are kept per (frame, track)
with ``RunnerOptions.landmarks`` and attached to that frame's poses: the 17 joints
come from the (temporal) head, the landmarks from the backbone on the same crop.

Joint scores. A model that reports a pose-present score (BlazePose) scores each
emitted joint as its heatmap maximum times the pose-present score of the person's
key-frame crop, so that a crop without a person (a false or duplicate box) ranks its
joints low; models without one score joints by the heatmap maximum alone
(docs/predict.md, "Scores").

Determinism. Every frame is encoded in the same batches (its own persons, in
track-id order, chunked by ``batch_size``) and every key frame is decoded alone,
so a resumed run computes exactly the same numbers as an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from semapose.inference.crops import crop_image
from semapose.inference.decoder import PoseDecoder
from semapose.inference.feature_window import FeatureWindow
from semapose.inference.results import CropOutput, FramePoses, PersonPose, TrackBox

#: per-crop single-frame outputs a model may return from ``encode_with_outputs``
CROP_OUTPUT_KEYS = ("pose_score", "keypoints", "keypoint_scores")
#: the backbone's own landmarks (N, L, 4): crop-pixel x, y, visibility, presence (BlazePose)
LANDMARKS_KEY = "landmarks"


@dataclass
class RunnerOptions:
    """How clips are formed and evaluated (see the module docstring)."""

    input_size: tuple[int, int] = (256, 192)
    heatmap_stride: int = 4
    sigma: float = 2.0
    #: supporting-frame offsets (key frame implied); empty = single-frame
    offsets: Sequence[int] = (-2, -1, 1, 2)
    bbox_enlarge: float = 1.25
    online: bool = False
    flip_test: bool = True
    refine: str = "dark"
    batch_size: int = 64
    #: "track": own-box crops, cached and reused; "key": key-frame box for all T (paper)
    crop: str = "track"
    #: attach each frame's RGB image to the emitted FramePoses
    keep_images: bool = False
    #: attach the backbone's own landmarks of each person's key-frame crop (BlazePose: 33,
    #: ``predict --landmarks 33``) to the emitted poses; models without them give none
    landmarks: bool = False

    @classmethod
    def from_config(cls, cfg: Any, **overrides: Any) -> RunnerOptions:
        """The options a model trained with ``cfg`` (a :class:`~semapose.config.Config`) runs
        with: crop size, heatmap codec, offsets and box enlargement from ``cfg.data``, flip,
        refinement and batch size from ``cfg.test``; ``overrides`` (e.g. ``online=True``) win."""
        d, t = cfg.data, cfg.test
        values: dict[str, Any] = {
            "input_size": (int(d.image_size[0]), int(d.image_size[1])),
            "heatmap_stride": d.heatmap_stride,
            "sigma": d.sigma,
            "offsets": tuple(d.offsets),
            "bbox_enlarge": d.bbox_enlarge,
            "flip_test": t.flip_test,
            "refine": t.refine,
            "batch_size": t.batch_size,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class TemporalRunner:
    """Frames + tracked boxes in, per-frame poses out (see the module docstring).

    ``model`` must provide ``encode_frames((N,3,H,W)) -> (N,C,h,w)`` and
    ``decode_clip((B,T,C,h,w)) -> (B,J,H/4,W/4)``; :func:`semapose.inference.loading`
    wraps single-frame models to this interface with T = 1.
    """

    def __init__(self, model: Any, options: RunnerOptions, device: Any = "cpu") -> None:
        import torch

        if options.crop not in ("track", "key"):
            raise ValueError(f"crop must be 'track' or 'key', got {options.crop!r}")
        from semapose.threads import thread_invariant_convolutions

        # the same numbers whatever the thread count (semapose.threads)
        for part in (model, getattr(model, "model", None)):
            thread_invariant_convolutions(part)
        self.model = model
        self.opt = options
        self.device = torch.device(device)
        offsets = sorted(set(int(o) for o in options.offsets) | {0})
        if options.online:
            # Same slots, past frames only: +o reads frame k - o.
            self.slot_offsets = [o if o <= 0 else -o for o in offsets]
        else:
            self.slot_offsets = offsets
        self.lookahead = max(0, max(self.slot_offsets))
        self.lookback = max(0, -min(self.slot_offsets))
        size = (int(options.input_size[0]), int(options.input_size[1]))
        self.decoder = PoseDecoder(
            size, options.heatmap_stride, options.sigma, options.refine, options.bbox_enlarge
        )
        self.cache = FeatureWindow()
        self._boxes: dict[int, dict[int, TrackBox]] = {}
        #: pose-present score of each (frame, track id) crop, for models that give one
        self._presence: dict[int, dict[int, float]] = {}
        self._images: dict[int, np.ndarray] = {}
        self._names: dict[int, str] = {}
        #: frame -> track id -> (L, 4) image-pixel landmarks (with ``options.landmarks``)
        self._landmarks: dict[int, dict[int, np.ndarray]] = {}
        self._next_frame = 0
        self._next_key = 0
        self.backbone_crops = 0
        #: key frames decoded (emitted) by this runner
        self.key_frames = 0

    # ------------------------------------------------------------------ state
    @property
    def pose_scores(self) -> bool:
        """Whether the model reports a pose-present score per crop (BlazePose's backbone)."""
        backbone = getattr(self.model, "backbone", None)
        return callable(getattr(self.model, "encode_with_outputs", None)) and callable(
            getattr(backbone, "forward_with_outputs", None)
        )

    @property
    def next_frame(self) -> int:
        """Index the next pushed frame must have."""
        return self._next_frame

    @property
    def next_key(self) -> int:
        """Index of the next key frame to be emitted."""
        return self._next_key

    @property
    def first_needed_frame(self) -> int:
        """Earliest frame a not yet emitted key frame can read."""
        return max(0, self._next_key - self.lookback)

    def start_at(self, next_key: int, next_frame: int) -> None:
        """Position an empty runner for a resume: ``warm`` frames come next, then new ones."""
        self._next_key = next_key
        self._next_frame = next_frame

    # ------------------------------------------------------------------ stream
    def warm(
        self, index: int, image: np.ndarray, tracks: Sequence[TrackBox], name: str = ""
    ) -> None:
        """Re-insert an already processed frame (resume): features recomputed, nothing emitted."""
        self._insert(index, image, tracks, name)

    def push(
        self, index: int, image: np.ndarray, tracks: Sequence[TrackBox], name: str = ""
    ) -> list[FramePoses]:
        """Add frame ``index`` (must be the next one) and return the key frames now complete."""
        return self.push_frame(index, image, tracks, name)[1]

    def push_frame(
        self, index: int, image: np.ndarray, tracks: Sequence[TrackBox], name: str = ""
    ) -> tuple[dict[int, CropOutput], list[FramePoses]]:
        """:meth:`push` that also returns this frame's single-frame crop outputs by track id
        (empty when the model gives none; see the module docstring)."""
        if index != self._next_frame:
            raise ValueError(f"expected frame {self._next_frame}, got {index}")
        crops = self._insert(index, image, tracks, name)
        self._next_frame = index + 1
        out = []
        while self._next_key + self.lookahead < self._next_frame:
            out.append(self._emit(self._next_key, self._next_frame - 1))
        return crops, out

    def finish(self) -> list[FramePoses]:
        """Emit the remaining key frames at the end of the stream (future slots repeat the last)."""
        out = []
        while self._next_key < self._next_frame:
            out.append(self._emit(self._next_key, self._next_frame - 1))
        return out

    def _insert(
        self, index: int, image: np.ndarray, tracks: Sequence[TrackBox], name: str
    ) -> dict[int, CropOutput]:
        ordered = sorted(tracks, key=lambda t: t.track_id)
        self._boxes[index] = {t.track_id: t for t in ordered}
        self._names[index] = name
        if self.opt.crop == "key" or self.opt.keep_images:
            self._images[index] = image
        if self.opt.crop != "track" or not ordered:
            return {}
        crops = [self._crop(image, t.box) for t in ordered]
        feats, extras = self._encode(np.stack(crops))
        for variant, fs in feats.items():
            for t, f in zip(ordered, fs, strict=True):
                self.cache.put(index, t.track_id, f, variant)
        lm = extras.pop(LANDMARKS_KEY, None)
        if self.opt.landmarks and lm is not None:
            self._landmarks[index] = {
                t.track_id: self._landmarks_to_image(lm[i], t.box) for i, t in enumerate(ordered)
            }
        if extras.get("pose_score") is not None:
            self._presence[index] = {
                t.track_id: round(float(p), 3)
                for t, p in zip(ordered, extras["pose_score"], strict=True)
            }
        return self._crop_outputs(ordered, extras)

    def _landmarks_to_image(self, landmarks: np.ndarray, box: np.ndarray) -> np.ndarray:
        out = np.asarray(landmarks, dtype=np.float64).copy()
        out[:, :2] = self.decoder.to_image(out[:, :2], box)
        return np.round(out, 3)

    def _crop(self, image: np.ndarray, box: np.ndarray) -> np.ndarray:
        return crop_image(image, self.decoder.crop_matrices(box)[0], self.opt.input_size)

    def _crop_outputs(
        self, tracks: list[TrackBox], extras: dict[str, np.ndarray]
    ) -> dict[int, CropOutput]:
        if not extras:
            return {}
        out = {}
        for i, t in enumerate(tracks):
            ps, kp, ks = (extras.get(k) for k in CROP_OUTPUT_KEYS)
            out[t.track_id] = CropOutput(
                t.track_id,
                pose_score=None if ps is None else round(float(ps[i]), 3),
                keypoints=None if kp is None else np.round(self.decoder.to_image(kp[i], t.box), 3),
                scores=None if ks is None else np.round(ks[i].astype(np.float64), 3),
            )
        return out

    # ------------------------------------------------------------------ model
    def _encode(self, crops: np.ndarray) -> tuple[dict[int, list[Any]], dict[str, np.ndarray]]:
        """Backbone features of (N,3,H,W) crops (variant 1 = horizontally flipped crops) and
        the un-flipped crops' single-frame outputs (:data:`CROP_OUTPUT_KEYS`) if the model
        has ``encode_with_outputs``."""
        import torch

        variants = {0: crops}
        if self.opt.flip_test:
            variants[1] = np.ascontiguousarray(crops[..., ::-1])
        with_outputs = getattr(self.model, "encode_with_outputs", None)
        out: dict[int, list[Any]] = {}
        extras: dict[str, list[np.ndarray]] = {}
        bs = self.opt.batch_size
        with torch.inference_mode():
            for v, arr in variants.items():
                feats: list[Any] = []
                for i in range(0, len(arr), bs):
                    x = torch.from_numpy(arr[i : i + bs]).to(self.device)
                    if v == 0 and with_outputs is not None:
                        res = with_outputs(x)
                        feats.extend(res["features"].unbind(0))
                        for k in (*CROP_OUTPUT_KEYS, LANDMARKS_KEY):
                            if res.get(k) is not None:
                                extras.setdefault(k, []).append(res[k].float().cpu().numpy())
                    else:
                        feats.extend(self.model.encode_frames(x).unbind(0))
                out[v] = feats
        self.backbone_crops += len(crops) * len(variants)
        return out, {k: np.concatenate(v) for k, v in extras.items()}

    def _decode(self, clips: dict[int, list[list[Any]]]) -> np.ndarray:
        """Heatmaps (B,J,h,w) of B clips (lists of T feature maps), flip-averaged."""
        import torch

        bs = self.opt.batch_size
        with torch.inference_mode():
            heat: dict[int, Any] = {}
            for v, clip_list in clips.items():
                hms = []
                for i in range(0, len(clip_list), bs):
                    batch = torch.stack([torch.stack(c) for c in clip_list[i : i + bs]])
                    hms.append(self.model.decode_clip(batch).float())
                heat[v] = torch.cat(hms)
            result = self.decoder.merge_flip(heat[0], heat.get(1))
            return result.cpu().numpy()  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ emit
    def _slot_frames(self, key: int, track_id: int, last: int) -> list[int]:
        frames = []
        for o in self.slot_offsets:
            g = min(max(key + o, 0), last)
            step = 1 if g < key else -1
            while g != key and track_id not in self._boxes.get(g, {}):
                g += step
            frames.append(g)
        return frames

    def _emit(self, key: int, last: int) -> FramePoses:
        tracks = list(self._boxes.get(key, {}).values())
        persons: list[PersonPose] = []
        if tracks:
            variants = [0, 1] if self.opt.flip_test else [0]
            clips: dict[int, list[list[Any]]] = {v: [] for v in variants}
            presence = dict(self._presence.get(key, {}))
            for t in tracks:
                frames = self._slot_frames(key, t.track_id, last)
                if self.opt.crop == "track":
                    for v in variants:
                        clips[v].append([self.cache.get(g, t.track_id, v) for g in frames])
                else:
                    crops = np.stack([self._crop(self._images[g], t.box) for g in frames])
                    feats, extras = self._encode(crops)
                    if extras.get("pose_score") is not None:
                        at = self.slot_offsets.index(0)
                        presence[t.track_id] = round(float(extras["pose_score"][at]), 3)
                    for v in variants:
                        clips[v].append(feats[v])
            heatmaps = self._decode(clips)
            points, scores = self.decoder.decode(heatmaps, [t.box for t in tracks])
            landmarks = self._landmarks.get(key, {})
            for t, xy, sc in zip(tracks, points, scores, strict=True):
                if t.track_id in presence:  # joint score x the crop's pose-present score
                    sc = sc * presence[t.track_id]
                # Rounded as stored (3 decimals), so a resumed run, which reads results back
                # from disk, feeds the tracker exactly the numbers the original run did.
                persons.append(
                    PersonPose(
                        t.track_id,
                        np.round(t.box, 3),
                        round(float(t.score), 3),
                        np.round(xy, 3),
                        np.round(sc, 3),
                        landmarks=landmarks.get(t.track_id),
                    )
                )
        image = self._images.get(key) if self.opt.keep_images else None
        result = FramePoses(key, persons, image, self._names.get(key, ""))
        self._next_key = key + 1
        self.key_frames += 1
        self._evict()
        return result

    def _evict(self) -> None:
        keep_from = self.first_needed_frame
        self.cache.evict_before(keep_from)
        for f in [f for f in self._boxes if f < keep_from]:
            del self._boxes[f]
            self._names.pop(f, None)
            self._presence.pop(f, None)
        for f in [f for f in self._landmarks if f < self._next_key]:
            del self._landmarks[f]
        image_from = keep_from if self.opt.crop == "key" else self._next_key
        for f in [f for f in self._images if f < image_from]:
            del self._images[f]


__all__ = ["CROP_OUTPUT_KEYS", "LANDMARKS_KEY", "RunnerOptions", "TemporalRunner"]
