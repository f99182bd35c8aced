"""Frame by frame: where the predict road loses a person (detector, tracker, pose, output).

``python benchmarks/track_diagnostics.py --data ../shared/data [--clip basketball_300f.mp4]
[--detector ssdlite] [--frames 0,5,10] [--png runs/diag]`` runs ``semapose predict``'s own
stream (the default model, the detector, :class:`~semapose.inference.tracking.Tracker`
through ``TrackerAdapter`` with the detection schedule, one thread) over a clip and prints,
for each frame asked (default: the basketball frames of
``detector_recall.BOTH_IN_VIEW``), one line per stage:

- ``det``: why the detector ran (``full``, ``request``, ``-``) and its boxes (score);
- ``crop``: the boxes handed out to crop (track id, source: detection / pose / motion)
  with the pose-present score of each crop;
- ``out``: the persons in the emitted frame (``h``: shown hidden, without a pose), and
  the tracks lost by then;

and a summary: frames with two distinct output poses (``both_posed``: as
``detector_recall.both_posed`` counts them, joints scoring above 0; ``both_drawn``: poses
with at least 4 joints at the drawing threshold 0.3) and the track ids used. ``--png DIR``
also writes the overlay of each asked frame with the detector's boxes dashed white
(``DIR/NNNNNN.png``). A tool for finding
causes, not a benchmark result: nothing is saved under benchmarks/results/.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from detector_recall import BOTH_IN_VIEW


def _fmt_box(b: Any) -> str:
    return "[" + ",".join(f"{float(v):.0f}" for v in list(b)[:4]) + "]"


def _distinct_pair(boxes: list[np.ndarray]) -> bool:
    from semapose.inference.detectors.boxops import box_iou

    if len(boxes) < 2:
        return False
    b = np.asarray(boxes)
    iou = box_iou(b, b)
    return bool((iou[np.triu_indices(len(b), 1)] < 0.3).any())


def _pose_box(p: Any, min_score: float = 0.0, min_joints: int = 3) -> np.ndarray | None:
    """The box of the joints scoring above ``min_score`` (None with fewer than ``min_joints``)."""
    kp, sc = np.asarray(p.keypoints), np.asarray(p.scores)
    seen = kp[sc > min_score]
    if len(seen) < min_joints:
        return None
    return np.array([*seen.min(axis=0), *seen.max(axis=0)])


def run(
    clip: Path,
    detector_name: str,
    frames: set[int],
    png: Path | None,
    tracker_options: dict[str, Any],
) -> dict[str, Any]:
    import torch

    from semapose.inference.detectors import build_detector
    from semapose.inference.outputs import draw_frame
    from semapose.inference.pipeline import RunnerOptions, TemporalRunner
    from semapose.inference.predictor import Predictor
    from semapose.inference.stream import PoseStream, TrackerAdapter
    from semapose.inference.tracking import DetectionSchedule
    from semapose.io.video import FrameSource
    from semapose.viz.draw import draw_dashed_box

    torch.set_num_threads(1)
    predictor = Predictor.create(None, "cpu")
    detector = build_detector(detector_name)
    opts = RunnerOptions(**{**predictor.options.__dict__, "keep_images": png is not None})
    runner = TemporalRunner(predictor.loaded.model, opts, predictor.device)
    adapter = TrackerAdapter(
        detector, presence_threshold=predictor.pose_threshold, **tracker_options
    )
    stream = PoseStream(runner, detector, adapter, DetectionSchedule(predictor.detect_every))
    tracker = adapter.tracker
    log: dict[int, list[str]] = {}
    dets_of: dict[int, np.ndarray | None] = {}
    posed = drawn = 0
    ids: set[int] = set()
    if png is not None:
        png.mkdir(parents=True, exist_ok=True)

    def emitted(ready: list[Any]) -> None:
        nonlocal posed, drawn
        for f in ready:
            ids.update(p.track_id for p in f.persons)
            boxes = [b for p in f.persons if not p.hidden and (b := _pose_box(p)) is not None]
            two = _distinct_pair(boxes)
            drawn_boxes = [
                b for p in f.persons if not p.hidden and (b := _pose_box(p, 0.3, 4)) is not None
            ]
            both_drawn = _distinct_pair(drawn_boxes)
            if f.index in frames:
                drawn += both_drawn
                posed += two
                people = " ".join(
                    f"{p.track_id}{'h' if p.hidden else ''}:"
                    + _fmt_box([*p.box[:2], *(p.box[:2] + p.box[2:])])
                    for p in f.persons
                )
                states = tracker._book.tracks.values()
                lost = sorted(s.track_id for s in states if s.lost_at is not None)
                log.setdefault(f.index, []).append(
                    f"  out  {'BOTH' if two else 'miss'}{'+drawn' if both_drawn else ''} "
                    f"{people or '-'}  lost={lost}"
                )
                if png is not None and f.image is not None:
                    import cv2

                    img = draw_frame(f.image, f.persons)
                    for d in [] if dets_of.get(f.index) is None else dets_of[f.index]:
                        draw_dashed_box(img, d[:4], (255, 255, 255), thickness=1, inplace=True)
                    k = 3 if img.shape[1] < 640 else 1  # small clips drawn 3x larger
                    big = cv2.resize(img, (img.shape[1] * k, img.shape[0] * k),
                                     interpolation=cv2.INTER_NEAREST)  # fmt: skip
                    cv2.imwrite(str(png / f"{f.index:06d}.png"), big[:, :, ::-1])

    for frame in FrameSource(clip).frames():
        why = stream._why(frame.index)
        step = stream.step(frame.index, frame.image, frame.name)
        dets_of[frame.index] = step.detections
        if frame.index in frames:
            d = step.detections
            det_txt = (
                " ".join(f"{_fmt_box(b)}{b[4]:.2f}" for b in d) if d is not None else "(skipped)"
            )
            crops = " ".join(
                f"{t.track_id}<{t.source[0]}>{_fmt_box(t.box)}"
                f"p={step.crops[t.track_id].pose_score:.2f}"
                if t.track_id in step.crops and step.crops[t.track_id].pose_score is not None
                else f"{t.track_id}<{t.source[0]}>{_fmt_box(t.box)}"
                for t in tracker._last_tracks  # type: ignore[attr-defined]
            )
            log.setdefault(frame.index, []).extend(
                [f"  det  {why or '-'}: {det_txt}", f"  crop {crops or '-'}"]
            )
        emitted(step.ready)
    emitted(stream.finish().ready)
    for f in sorted(log):
        print(f"frame {f}")
        print("\n".join(log[f]))
    summary = {
        "both_posed": posed,
        "both_drawn": drawn,
        "frames": len(frames),
        "track_ids": sorted(ids),
    }
    print(summary)
    return summary


def _record_tracks(tracker: Any) -> None:
    """Keep the tracks of the last ``update`` on the tracker (for the ``crop`` line)."""
    original = tracker.update

    def update(frame_index: int, detections: Any) -> Any:
        out = original(frame_index, detections)
        tracker._last_tracks = out
        return out

    tracker.update = update


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data"))
    ap.add_argument("--clip", default="basketball_300f.mp4")
    ap.add_argument("--detector", default="ssdlite")
    ap.add_argument("--frames", default=None, help="comma-separated frames (default BOTH_IN_VIEW)")
    ap.add_argument("--png", type=Path, default=None, help="write overlays of those frames here")
    ap.add_argument(
        "--option", action="append", default=[], help="tracker option NAME=VALUE (float)"
    )
    args = ap.parse_args(argv)
    frames = {int(v) for v in args.frames.split(",")} if args.frames else set(BOTH_IN_VIEW)
    options = {k: float(v) for k, v in (o.split("=", 1) for o in args.option)}
    from semapose.inference.tracking import Tracker

    original_init = Tracker.__init__

    def init(self: Any, *a: Any, **kw: Any) -> None:
        original_init(self, *a, **kw)
        _record_tracks(self)

    Tracker.__init__ = init  # type: ignore[method-assign]
    run(args.data / "videos" / args.clip, args.detector, frames, args.png, options)


if __name__ == "__main__":
    main()
