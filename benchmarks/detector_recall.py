"""Measure a detector (recall, boxes/frame, ms/frame) and the whole predict road with it.

``python benchmarks/detector_recall.py --data ../shared/data [--detector ssdlite]
[--score 0.3] [--tiles 3] [--zoom 0.667]`` prints one JSON line, the way
``../shared/DETECTORS.md`` measured detectors:

- recall@0.5 / @0.3: share of the PoseTrack18 sample's ground-truth boxes whose
  best-overlapping detection reaches that IoU;
- boxes per frame on the street clip (every frame), the two-person clip (every
  4th frame) and the basketball clip (every 6th frame);
- exactly-2: frames with exactly two boxes on the two-person and basketball clips;
- mean ms per frame over all frames run.

``--road`` (issue 22) runs, for each detector setting of :data:`ROAD_SETTINGS`, the
detector alone as above, then ``semapose predict``'s own code (``Predictor.run_one``,
default model, no overlay, one thread) and saves ``benchmarks/results/detector_road.{json,md}``:

- whole-road mAP of the PoseTrack18 sample (``semapose evaluate``'s poseval mAP);
- basketball_300f: the frames, of every 5th, in which both children are fully in
  view (:data:`BOTH_IN_VIEW`, our own count from looking at the frames) and how many
  of them carry two distinct poses (two output poses whose keypoint boxes overlap
  by IoU < 0.3; only the two children are in the scene), plus the track ids used.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from harness.cli import parser
from harness.machine import command_line, machine_info, machine_line
from harness.paths import shared_data
from harness.report import md_table, write_results
from semapose.inference.detectors import build_detector
from semapose.inference.detectors.boxops import box_iou

CLIPS = (("street", "street_pedestrians_5f.mp4", 1), ("two", "two_people_72f.mp4", 4),
         ("bball", "basketball_300f.mp4", 6))  # fmt: skip


def _gt_frames(sample: Path) -> list[tuple[Path, np.ndarray]]:
    out = []
    for ann in sorted((sample / "annotations" / "val").glob("*.json")):
        data = json.loads(ann.read_text())
        names = {im["id"]: im["file_name"] for im in data["images"]}
        boxes: dict[int, list[list[float]]] = {}
        for a in data["annotations"]:
            if a.get("bbox") and len(a["bbox"]) == 4:
                x, y, w, h = a["bbox"]
                boxes.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
        for image_id, bs in boxes.items():
            out.append((sample / names[image_id], np.array(bs)))
    return out


def measure(data: Path, detector_name: str = "ssdlite", **kwargs: Any) -> dict[str, Any]:
    import cv2

    from semapose.io.video import FrameSource

    det = build_detector(detector_name, **kwargs)
    times: list[float] = []

    def run(img: np.ndarray) -> np.ndarray:
        t = time.perf_counter()
        boxes = det.detect(img)
        times.append(time.perf_counter() - t)
        return boxes

    result: dict[str, Any] = {"detector": detector_name, **kwargs}
    sample = data / "posetrack18_sample"
    if sample.is_dir():
        hits5 = hits3 = total = 0
        for path, gt in _gt_frames(sample):
            image = cv2.imread(str(path))
            if image is None:
                raise FileNotFoundError(path)
            iou = box_iou(gt, run(np.ascontiguousarray(image[:, :, ::-1])))
            best = iou.max(axis=1) if iou.shape[1] else np.zeros(len(gt))
            hits5 += int((best >= 0.5).sum())
            hits3 += int((best >= 0.3).sum())
            total += len(gt)
        result["recall@0.5"] = f"{hits5}/{total}"
        result["recall@0.3"] = f"{hits3}/{total}"
    times.clear()
    for key, name, step in CLIPS:
        path = data / "videos" / name
        if not path.is_file():
            continue
        counts = [len(run(f.image)) for f in FrameSource(path).frames() if f.index % step == 0]
        result[f"boxes/frame {key}"] = round(float(np.mean(counts)), 2)
        if key != "street":
            result[f"exactly-2 {key}"] = f"{sum(c == 2 for c in counts)}/{len(counts)}"
    result["ms/frame"] = round(1000 * float(np.mean(times)), 1) if times else None
    return result


#: basketball_300f frames (of every 5th) in which both children are wholly in view: our own
#: count from contact sheets of every 5th frame. Out: 150-190 (one child partly or wholly
#: behind the other), 275-295 (camera pan: a child cut by the edge, motion blur).
BOTH_IN_VIEW = tuple(range(0, 150, 5)) + tuple(range(195, 275, 5))

#: SSDLite settings the road section compares: (label, keyword arguments)
ROAD_SETTINGS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("ssdlite: tiles 3, no zoom (before issue 22)", "ssdlite", {"zoom": 0.0}),
    ("ssdlite: tiles 3, zoom 2/3 (default)", "ssdlite", {}),
    ("ssdlite: tiles 3, zoom 1/2", "ssdlite", {"zoom": 0.5}),
    ("ssdlite+blazepose (merged)", "ssdlite+blazepose", {}),
    ("blazepose alone", "blazepose", {}),
)


def _predict(data_path: Path, out: Path, detector: Any) -> None:
    from semapose.inference.predictor import Predictor, list_inputs

    predictor = Predictor.create(None, "cpu")
    for path in list_inputs(data_path):
        predictor.run_one(path, out, detector_obj=detector, write_video=False, progress=False)


def both_posed(posetrack_json: Path, frames: tuple[int, ...]) -> dict[str, Any]:
    """How many of ``frames`` carry two distinct poses (see the module docstring)."""
    data = json.loads(posetrack_json.read_text())
    index = {im["id"]: i for i, im in enumerate(sorted(data["images"], key=lambda m: m["id"]))}
    boxes: dict[int, list[list[float]]] = {}
    ids: set[int] = set()
    for a in data["annotations"]:
        kp = np.asarray(a["keypoints"], dtype=float).reshape(-1, 3)
        seen = kp[kp[:, 2] > 0]
        if len(seen) >= 3:
            boxes.setdefault(index[a["image_id"]], []).append(
                [seen[:, 0].min(), seen[:, 1].min(), seen[:, 0].max(), seen[:, 1].max()]
            )
            ids.add(int(a.get("track_id", -1)))
    hit = []
    for f in frames:
        b = np.asarray(boxes.get(f, []))
        iou = box_iou(b, b) if len(b) else np.zeros((0, 0))
        hit.append(bool(len(b) >= 2 and (iou[np.triu_indices(len(b), 1)] < 0.3).any()))
    return {
        "both_posed": sum(hit),
        "frames": len(frames),
        "share": round(sum(hit) / max(len(frames), 1), 3),
        "missed": [f for f, h in zip(frames, hit, strict=True) if not h],
        "track_ids": sorted(ids),
    }


def two_people_frames(data: Path, detect: Any) -> int:
    """Of :data:`BOTH_IN_VIEW`, the basketball frames where ``detect(rgb) -> (K, 5)``
    gives two distinct boxes (score >= 0.3, IoU < 0.3): the detector alone."""
    from semapose.io.video import FrameSource

    hits = 0
    for f in FrameSource(data / "videos" / "basketball_300f.mp4").frames():
        if f.index in BOTH_IN_VIEW:
            b = np.asarray(detect(f.image), dtype=np.float64).reshape(-1, 5)
            b = b[b[:, 4] >= 0.3]
            iou = box_iou(b, b)
            hits += int(len(b) >= 2 and bool((iou[np.triu_indices(len(b), 1)] < 0.3).any()))
    return hits


def blazepose_detector(tflite: Path) -> Any:
    """MediaPipe's ``pose_detection.tflite`` run by Google's runtime (ai-edge-litert, the
    dev extra), 3 square tiles + the letterboxed frame; box: the square around the hip
    centre (keypoint 0) reaching keypoint 1. A feasibility check, not a semapose detector."""
    import cv2
    from ai_edge_litert.interpreter import Interpreter

    from semapose.inference.detectors.boxops import nms

    it = Interpreter(model_path=str(tflite))
    it.allocate_tensors()
    inp, outs = it.get_input_details()[0], it.get_output_details()
    cells = [((x + 0.5) / g, (y + 0.5) / g) for s, n in ((8, 2), (16, 2), (32, 6))
             for g in [224 // s] for y in range(g) for x in range(g) for _ in range(n)]  # fmt: skip
    anchors = np.asarray(cells)  # 2254: 28x28x2, 14x14x2, 7x7x6 (MediaPipe's SSD anchors)

    def square(img: np.ndarray) -> np.ndarray:
        s = img.shape[0]
        x = cv2.resize(img, (224, 224)).astype(np.float32)[None] / 127.5 - 1
        it.set_tensor(inp["index"], x)
        it.invoke()
        o = {int(d["shape"][-1]): it.get_tensor(d["index"])[0] for d in outs}
        score = 1 / (1 + np.exp(-np.clip(o[1][:, 0], -80, 80)))
        k = score >= 0.5
        r, a = o[12][k], anchors[k]
        hx, hy = r[:, 4] / 224 + a[:, 0], r[:, 5] / 224 + a[:, 1]
        rad = np.hypot(r[:, 6] / 224 + a[:, 0] - hx, r[:, 7] / 224 + a[:, 1] - hy)
        return np.stack([hx - rad, hy - rad, hx + rad, hy + rad, score[k]], 1) * [s, s, s, s, 1]

    def detect(frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        boxes = []
        for x0 in np.linspace(0, max(w - h, 0), 3).round().astype(int):
            b = square(np.ascontiguousarray(frame[:, x0 : x0 + h]))
            b[:, [0, 2]] += x0
            boxes.append(b)
        pad = np.zeros((max(h, w), max(h, w), 3), np.uint8)
        pad[:h, :w] = frame
        boxes.append(square(pad))
        return nms(np.concatenate(boxes), 0.3)

    return detect


def road(data: Path) -> dict[str, Any]:
    """The detector and the whole predict road for each of :data:`ROAD_SETTINGS`."""
    import tempfile

    from semapose.evaluation import evaluate_posetrack

    sample = data / "posetrack18_sample"
    clip = data / "videos" / "basketball_300f.mp4"
    rows: list[dict[str, Any]] = []
    for label, name, kwargs in ROAD_SETTINGS:
        row: dict[str, Any] = {"setting": label, "kwargs": kwargs}
        row["detector"] = measure(data, name, **kwargs)
        if clip.is_file():
            row["basketball_detector_alone"] = two_people_frames(
                data, build_detector(name, **kwargs).detect
            )
        with tempfile.TemporaryDirectory() as tmp:
            if sample.is_dir():
                t = time.perf_counter()
                _predict(
                    sample / "images" / "val", Path(tmp) / "pt", build_detector(name, **kwargs)
                )
                result = evaluate_posetrack(
                    sample / "annotations" / "val", Path(tmp) / "pt" / "posetrack"
                )
                row["posetrack_map"] = {k: v for k, v in result.items() if k != "per_joint"}
                row["posetrack_s"] = round(time.perf_counter() - t, 1)
            if clip.is_file():
                t = time.perf_counter()
                _predict(clip, Path(tmp) / "bb", build_detector(name, **kwargs))
                posetrack = Path(tmp) / "bb" / "posetrack" / "basketball_300f.json"
                row["basketball"] = both_posed(posetrack, BOTH_IN_VIEW)
                row["basketball_s"] = round(time.perf_counter() - t, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"rows": rows}


def blazepose_check(data: Path, tflite: Path) -> dict[str, Any]:
    """The detector-alone basketball count for MediaPipe's pose detector (feasibility)."""
    hits = two_people_frames(data, blazepose_detector(tflite))
    return {"detector": f"MediaPipe pose_detection.tflite via ai-edge-litert ({tflite.name})",
            "basketball_detector_alone": hits, "frames": len(BOTH_IN_VIEW)}  # fmt: skip


def _road_markdown(result: dict[str, Any], info: dict[str, Any]) -> str:
    table = []
    for r in result["rows"]:
        d, b = r["detector"], r.get("basketball", {})
        table.append([
            r["setting"],
            _map_mean(r.get("posetrack_map")),
            f"{d.get('recall@0.5')} ({d.get('recall@0.3')})",
            f"{b.get('both_posed')}/{b.get('frames')}" if b else "n/a",
            f"{r.get('basketball_detector_alone')}/{len(BOTH_IN_VIEW)}",
            len(b.get("track_ids", [])) if b else "n/a",
            d.get("boxes/frame street"),
            d.get("ms/frame"),
        ])  # fmt: skip
    header = ["detector setting", "sample mAP (whole road)", "recall@0.5 (@0.3)",
              "basketball: both children posed", "basketball: detector alone finds both",
              "basketball ids", "boxes/frame street",
              "detector ms/frame"]  # fmt: skip
    return "\n".join([
        "# The default detector on the whole predict road (issue 22)",
        "",
        md_table(header, table),
        "",
        "sample mAP: `semapose evaluate` (poseval) of the predict outputs of the PoseTrack18 "
        "sample (3 labelled frames, 14 people). Basketball: of the every-5th frames in which "
        f"both children are wholly in view by our own count ({len(BOTH_IN_VIEW)} frames, "
        "`BOTH_IN_VIEW` in the script), those with two distinct output poses. Detector "
        "ms/frame: wall time on a shared machine (load in the machine line), comparable "
        "only within one run. Detector alone: frames where the detector run on its own "
        "gives two distinct boxes (score >= 0.3, IoU < 0.3).",
        "",
        *_blazepose_lines(result.get("blazepose")),
        f"Command: `{command_line()}`  ",
        f"Machine: {machine_line(info)}",
    ])  # fmt: skip


def _blazepose_lines(check: dict[str, Any] | None) -> list[str]:
    if not check:
        return []
    return [
        f"Feasibility of a second proposal source: {check['detector']}, 3 square tiles + the "
        f"letterboxed frame, alone: both children in {check['basketball_detector_alone']}/"
        f"{check['frames']} of the same frames (Google's runtime, not a semapose detector).",
        "",
    ]


def _map_mean(value: Any) -> Any:
    if isinstance(value, dict):
        for key in ("Mean", "mean", "total"):
            if key in value:
                return value[key]
    return value


def main(argv: list[str] | None = None) -> None:
    ap = parser(__doc__)
    ap.add_argument("--data", type=Path, default=shared_data())
    ap.add_argument("--detector", default="ssdlite")
    ap.add_argument("--score", type=float, default=None)
    ap.add_argument("--tiles", type=int, default=None)
    ap.add_argument("--zoom", type=float, default=None)
    ap.add_argument("--road", action="store_true", help="the whole-road comparison (saved)")
    ap.add_argument(
        "--blazepose-detector",
        type=Path,
        default=None,
        help="with --road: also MediaPipe's pose_detection.tflite (from the mediapipe==0.10.21 "
        "wheel) run by ai-edge-litert, detector alone on basketball (feasibility)",
    )
    args = ap.parse_args(argv)
    if args.road:
        import torch

        torch.set_num_threads(1)
        result = road(args.data)
        if args.blazepose_detector is not None:
            result["blazepose"] = blazepose_check(args.data, args.blazepose_detector)
        info = machine_info(1)
        write_results(
            "detector_road", {**result, "machine": info}, _road_markdown(result, info), args.out
        )
        return
    kwargs: dict[str, Any] = {}
    if args.score is not None:
        kwargs["score_threshold"] = args.score
    if args.tiles is not None:
        kwargs["tiles"] = args.tiles
    if args.zoom is not None:
        kwargs["zoom"] = args.zoom
    print(json.dumps(measure(args.data, args.detector, **kwargs)))


if __name__ == "__main__":
    main()
