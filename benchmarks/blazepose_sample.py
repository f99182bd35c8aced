"""BlazePose GHUM full on the real PoseTrack18 sample with ground-truth boxes.

Usage::

    python benchmarks/blazepose_sample.py [--data ../shared/data/posetrack18_sample]
        [--weights pose_landmark_full.tflite] [--threads 2] [--repeat 20]

For each crop enlargement (1.25, 1.5 of the GT box, square 256 x 256 crops) and each
decoding of the 33 body landmarks:

* ``regression`` -- the model's own landmark output;
* ``regression+refine`` -- MediaPipe's heatmap refinement of it (kernel 7, 0.5);
* ``heatmap`` -- our codec (argmax + DARK, data/codec.py) on the sigmoid of
  BlazePose's heatmap logits, i.e. what the 1x1 PoseTrack head initialised from
  BlazePose's heatmap convolution decodes to;

it maps to the 17 PoseTrack18 slots with a head rule (``hand``: fixed geometric
constants; ``fitted``: least squares on the sample, scored leave-one-sequence-out so
that no sequence is scored with constants fitted on it), and reports PCKh@0.5 of the
13 shared joints, PCKh@0.5 of head_bottom/head_top, and poseval mAP per joint
(semapose.evaluation). Also ms per crop at batch 1 and 8 (``--threads`` torch
threads). Saves ``benchmarks/results/blazepose_sample.{json,md}``.

With the sample's own detection file it measures the product road only: it runs the
``semapose predict --boxes`` command (in this process) and scores the files it writes,
so this benchmark and ``semapose evaluate`` of ``semapose predict`` output cannot
disagree (:func:`detection_rows`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from blazepose_head_rules import (
    fit_axis_weights,
    fit_head_weights,
    head_parts,
    posetrack_points,
    synthetic_rules,
)
from blazepose_sample_report import markdown, sample_figure
from harness.cli import parser as bench_parser
from harness.machine import command_line, machine_info, set_threads
from harness.paths import ROOT, posetrack_sample
from harness.report import write_results
from harness.scoring import write_like_gt
from harness.timing import time_interleaved

__all__ = ["fit_axis_weights", "fit_head_weights", "head_parts", "markdown"]

ENLARGEMENTS = (1.25, 1.5)
DECODINGS = ("regression", "regression+refine", "heatmap")


def sample_people(data: Path) -> list[dict[str, Any]]:
    """Every annotated person with a box: image, sequence, GT file, image id, person."""
    from semapose.data.posetrack import load_posetrack18

    people = []
    for gt_file in sorted((data / "annotations" / "val").glob("*.json")):
        for rec in load_posetrack18(gt_file):
            for k, person in enumerate(rec.persons):
                if person.best_box() is None or person.head_box is None:
                    continue
                people.append(
                    {
                        "gt_file": gt_file,
                        "sequence": rec.sequence,
                        "image_id": rec.image_id,
                        "image_path": rec.image_path,
                        "person": person,
                        "box": person.best_box(),
                        "index": k,
                    }
                )
    return people


def make_crops(people: list[dict[str, Any]], enlarge: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, 256, 256, 3) uint8 RGB crops and their (N, 2, 3) image -> crop matrices."""
    import cv2

    from semapose.data.transforms import box_to_center_scale, crop, get_affine_matrix

    images: dict[Path, np.ndarray] = {}
    crops, mats = [], []
    for p in people:
        path = p["image_path"]
        if path not in images:
            images[path] = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        center, scale = box_to_center_scale(p["box"], (256, 256), enlarge)
        m = get_affine_matrix(center, scale, 0.0, (256, 256))
        crops.append(crop(images[path], m, (256, 256)))
        mats.append(m)
    return np.stack(crops), np.stack(mats)


def run_model(net: Any, crops: np.ndarray, batch: int = 8) -> dict[str, np.ndarray]:
    import torch

    outs: dict[str, list[np.ndarray]] = {}
    with torch.no_grad():
        for i in range(0, len(crops), batch):
            x = torch.from_numpy(crops[i : i + batch]).permute(0, 3, 1, 2).float() / 255
            for k, v in net(x).items():
                outs.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def decode(out: dict[str, np.ndarray], how: str) -> tuple[np.ndarray, np.ndarray]:
    """33 body points (N, 33, 2) in crop pixels (pixel-centre convention) and scores (N, 33)."""
    import torch

    from semapose.data.codec import HeatmapCodec
    from semapose.models.backbones.blazepose_landmarks import refine_landmarks_torch

    lm, hm = out["landmarks"][:, :33], out["heatmaps"][:, :33]
    vis = 1 / (1 + np.exp(-lm[..., 3]))
    if how == "regression":
        return lm[..., :2] - 0.5, vis
    if how == "regression+refine":
        refined = refine_landmarks_torch(
            torch.from_numpy(lm).double(), torch.from_numpy(hm).double()
        )
        xy, peak = (t.numpy() for t in refined)
        return xy - 0.5, np.minimum(vis, peak)
    if how == "heatmap":
        codec = HeatmapCodec((256, 256), stride=4, sigma=2.0, refine="dark")
        prob = 1 / (1 + np.exp(-hm))
        # BlazePose's heatmap cell c sits at crop position 4c in its corner convention
        # (as MediaPipe's refinement maps it; measured: regression - 4c is -0.5 / +1.2 px
        # in x / y on this sample), i.e. 4c - 0.5 in our pixel-centre convention
        xy, peak = codec.decode(prob)
        return xy - 0.5, peak
    raise ValueError(how)


def decode_head(
    net: Any,
    out: dict[str, np.ndarray],
    fitted: Path | None,
    flipped: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The 17-slot BlazePoseHead on the features, decoded by the codec as the estimator
    does: (N, 17, 2) crop pixels and scores. ``fitted=None``: head points from the
    synthetic-fitted channels (bundled); a missing file: the mouth/eye channels.
    ``flipped``: the outputs of the mirrored crops, averaged in (flip test)."""
    import torch

    from semapose.data.codec import HeatmapCodec
    from semapose.models.backbones.blazepose_head import BlazePoseHead, posetrack_head_state

    head = BlazePoseHead()
    head.load_state_dict(posetrack_head_state(net.state_dict(), fitted))
    from semapose.data.transforms import flip_back_heatmaps

    with torch.no_grad():
        heatmaps = head(torch.from_numpy(out["features"])).numpy()
        if flipped is not None:
            mirrored = head(torch.from_numpy(flipped["features"])).numpy()
            heatmaps = 0.5 * (heatmaps + flip_back_heatmaps(mirrored))
    return HeatmapCodec((256, 256), stride=4, sigma=2.0, refine="dark").decode(heatmaps)


def to_image(points: np.ndarray, mats: np.ndarray) -> np.ndarray:
    from semapose.data.transforms import invert_affine, transform_points

    return transform_points(points, invert_affine(mats))


def head_size(person: Any) -> float:
    x, y, w, h = person.head_box
    return 0.6 * float(np.hypot(w, h))


def pckh(pred: np.ndarray, people: list[dict[str, Any]], slots: tuple[int, ...]) -> float:
    hits = total = 0
    for xy, p in zip(pred, people, strict=True):
        person = p["person"]
        for s in slots:
            if person.visibility[s] > 0:
                total += 1
                hits += np.linalg.norm(xy[s] - person.keypoints[s]) <= 0.5 * head_size(person)
    return 100.0 * hits / max(total, 1)


def evaluate_map(
    people: list[dict[str, Any]],
    keypoints: np.ndarray,
    scores: np.ndarray,
    pose_score: np.ndarray,
    gt_files: list[Path] | None = None,
) -> dict[str, Any]:
    from semapose.evaluation import evaluate_posetrack

    with tempfile.TemporaryDirectory() as tmp:
        gt_files = gt_files or sorted({p["gt_file"] for p in people})
        for gt_file in gt_files:
            per: dict[Any, list[dict[str, Any]]] = {}
            for i, p in enumerate(people):
                if p["gt_file"] == gt_file:
                    per.setdefault(int(p["image_id"]), []).append(
                        {
                            "keypoints": keypoints[i],
                            "scores": scores[i],
                            "score": float(pose_score[i]),
                            "track_id": p["index"],
                        }
                    )
            write_like_gt(gt_file, Path(tmp) / gt_file.name, per)
        return evaluate_posetrack(gt_files, [Path(tmp) / f.name for f in gt_files])


def score_row(
    enlarge: float,
    decoding: str,
    head_rule: str,
    kp: np.ndarray,
    ks: np.ndarray,
    people: list[dict[str, Any]],
    pose_score: np.ndarray,
) -> dict[str, Any]:
    """One result row: PCKh@0.5 (13 shared joints, head_bottom, head_top) and poseval mAP."""
    from semapose.keypoints import BLAZEPOSE_SHARED_SLOTS

    mapped = evaluate_map(people, kp, ks, pose_score)
    return {
        "enlarge": enlarge,
        "decoding": decoding,
        "head_rule": head_rule,
        "pckh_13": round(pckh(kp, people, BLAZEPOSE_SHARED_SLOTS), 1),
        "pckh_head_bottom": round(pckh(kp, people, (1,)), 1),
        "pckh_head_top": round(pckh(kp, people, (2,)), 1),
        "map_mean": mapped.get("Mean"),
        "map": mapped,
    }


def timing(net: Any, weights: Path | None, threads: int, repeat: int) -> dict[str, Any]:
    """ms per crop of the module at batch 1 and 8 and, as a reference measured in the
    same rounds, Google's runtime (ai-edge-litert, batch 1) when it is installed. The
    three are interleaved round by round so that load from other jobs hits all alike."""
    import statistics

    import torch

    torch.set_num_threads(threads)
    calls: dict[str, Any] = {}
    for batch in (1, 8):
        x = torch.rand(batch, 3, 256, 256)
        calls[f"torch_batch_{batch}_threads_{threads}"] = (lambda x=x: net(x), batch)
    try:
        from ai_edge_litert.interpreter import Interpreter

        from semapose.weights.assets import fetch_asset

        path = weights if weights is not None and weights.suffix == ".tflite" else None
        it = Interpreter(model_path=str(path or fetch_asset("blazepose_full")), num_threads=threads)
        it.allocate_tensors()
        index = it.get_input_details()[0]["index"]
        it.set_tensor(index, np.random.default_rng(0).random((1, 256, 256, 3), dtype=np.float32))
        calls[f"litert_batch_1_threads_{threads}"] = (it.invoke, 1)
    except ImportError:
        pass
    with torch.no_grad():
        runs = time_interleaved({k: fn for k, (fn, _) in calls.items()}, repeat, warmup=2)
    return {
        name: {
            "ms_per_crop": round(1000 * statistics.median(runs[name]) / batch, 2),
            "ms_per_crop_min": round(1000 * min(runs[name]) / batch, 2),
            "runs_s": [round(v, 5) for v in runs[name]],
        }
        for name, (_, batch) in calls.items()
    }


#: the product road with the sample's detection file: ``semapose predict --boxes`` options
DETECTION_RUNS = (
    ("blazepose_temporal (default)", []),
    ("blazepose_temporal, --flip", ["--flip"]),
    ("blazepose (--single-frame)", ["--single-frame"]),
    ("blazepose (--single-frame), --flip", ["--single-frame", "--flip"]),
)


def detection_rows(data: Path, gt_files: list[Path], threads: int) -> list[dict[str, Any]]:
    """poseval mAP with the sample's detection file, measured on the product road: the
    ``semapose predict --boxes`` command itself (run in this process: the code predict
    runs, the files it writes) scored by ``semapose.evaluation`` on those files, as
    ``semapose evaluate`` does. Box files are used exactly as given (every box, no
    duplicate removal); the joint scores are predict's own."""
    from semapose.cli import main as semapose_main
    from semapose.evaluation import evaluate_posetrack

    det_file = data / "annotations" / "test_posetrack18_human_detections.json"
    rows = []
    for label, options in DETECTION_RUNS:
        with tempfile.TemporaryDirectory() as tmp:
            argv = [
                "predict",
                str(data / "images" / "val"),
                "--out",
                tmp,
                "--boxes",
                str(det_file),
                "--no-video",
                "--quiet",
                "--threads",
                str(threads),
                *options,
            ]
            if semapose_main(argv) != 0:
                raise SystemExit(f"semapose {' '.join(argv)} failed")
            pred = [Path(tmp) / "posetrack" / f.name for f in gt_files]
            boxes = sum(len(_annotations(f)) for f in pred)
            mapped = evaluate_posetrack(gt_files, pred)
        shown = [
            "semapose",
            "predict",
            "SAMPLE/images/val",
            "--out",
            "OUT",
            "--boxes",
            "DETECTIONS",
        ]
        shown += argv[6:]
        rows.append(
            {
                "weights": label,
                "command": " ".join(shown),
                "persons_written": boxes,
                "map_mean": mapped.get("Mean"),
                "map": mapped,
            }
        )
        print(f"predict --boxes, {label}: {boxes} persons, mAP {mapped.get('Mean')}", flush=True)
    return rows


def _annotations(path: Path) -> list[Any]:
    import json

    return list(json.loads(path.read_text(encoding="utf-8")).get("annotations", []))


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--data", type=Path, default=posetrack_sample())
    parser.add_argument("--weights", type=Path, default=None, help="pose_landmark_full.tflite")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (accuracy part)")
    parser.add_argument(
        "--timing-threads", default="1,2", help="thread counts of the timing (comma-separated)"
    )
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--figure",
        type=Path,
        default=ROOT / "runs" / "figures" / "blazepose_sample.png",
        help="PNG sheet of the 1.5 crops with the default decoding (PoseTrack images: keep it "
        "out of the repository)",
    )
    args = parser.parse_args(argv)

    from semapose.keypoints import BLAZEPOSE_HEAD_WEIGHTS
    from semapose.models.backbones.blazepose_tflite import load_blazepose

    set_threads(args.threads)
    net = load_blazepose(args.weights)
    people = sample_people(args.data)
    sequences = sorted({p["sequence"] for p in people})
    hand = BLAZEPOSE_HEAD_WEIGHTS
    results: dict[str, Any] = {
        "command": command_line(),
        "machine": machine_info(args.threads),
        "people": len(people),
        "frames": len({(p["gt_file"], p["image_id"]) for p in people}),
        "sequences": sequences,
        "hand_head_weights": hand,
        "rows": [],
    }
    scale = np.array([head_size(p["person"]) for p in people])
    seq_of = np.array([sequences.index(p["sequence"]) for p in people])
    gt = np.stack([p["person"].keypoints for p in people])
    gt_vis = np.stack([p["person"].visibility for p in people])
    fitted_all: dict[str, Any] = {}
    for enlarge in ENLARGEMENTS:
        crops, mats = make_crops(people, enlarge)
        out = run_model(net, crops)
        for how in DECODINGS:
            pts33, sc33 = decode(out, how)
            img33 = to_image(pts33, mats)
            parts = head_parts(img33)
            # leave-one-sequence-out fits of the head rule (each person scored with
            # constants fitted on the other sequences only)
            variants = {"hand": posetrack_points(img33, sc33, hand)}
            for label, weights in synthetic_rules().items():
                variants[f"{label} fit on synthetic people"] = posetrack_points(
                    img33, sc33, weights
                )
            for label, fit in (
                ("4-weight fit", fit_head_weights),
                ("1-parameter fit", fit_axis_weights),
            ):
                loo_pts = np.zeros((len(people), 17, 2))
                loo_sc = np.zeros((len(people), 17))
                for s in range(len(sequences)):
                    w = {}
                    for name, slot in (("head_bottom", 1), ("head_top", 2)):
                        ok = (seq_of != s) & (gt_vis[:, slot] > 0)
                        w[name] = fit(parts[ok], gt[ok, slot], scale[ok])
                    sel = seq_of == s
                    loo_pts[sel], loo_sc[sel] = posetrack_points(img33[sel], sc33[sel], w)
                variants[f"{label} (leave-one-sequence-out)"] = (loo_pts, loo_sc)
                fitted_all[f"{enlarge}/{how}/{label}"] = {
                    name: fit(
                        parts[gt_vis[:, slot] > 0],
                        gt[gt_vis[:, slot] > 0, slot],
                        scale[gt_vis[:, slot] > 0],
                    )
                    for name, slot in (("head_bottom", 1), ("head_top", 2))
                }
            for rule, (kp, ks) in variants.items():
                row = score_row(enlarge, how, rule, kp, ks, people, out["pose_score"])
                results["rows"].append(row)
                print(
                    f"enlarge {enlarge} {how:18s} {rule:32s} PCKh13 {row['pckh_13']:5.1f} "
                    f"hb {row['pckh_head_bottom']:5.1f} ht {row['pckh_head_top']:5.1f}",
                    flush=True,
                )
        if args.figure is not None and enlarge == 1.5:
            from semapose.io.atomic import atomic_write_bytes

            crop_kp, _ = decode_head(net, out, None)
            atomic_write_bytes(args.figure, sample_figure(crops, crop_kp, people, mats))
        out_flipped = run_model(net, np.ascontiguousarray(crops[:, :, ::-1]))
        for label, fitted, flipped in (
            ("head: synthetic-fitted channels", None, None),
            ("head: synthetic-fitted channels, flip test", None, out_flipped),
            ("head: mouth/eye channels", Path("/nonexistent"), None),
        ):
            kp, ks = decode_head(net, out, fitted, flipped)
            kp = to_image(kp, mats)
            row = score_row(
                enlarge, "heatmap head (17 ch)", label, kp, ks, people, out["pose_score"]
            )
            results["rows"].append(row)
            print(
                row["enlarge"],
                row["head_rule"],
                row["pckh_13"],
                row["pckh_head_bottom"],
                row["pckh_head_top"],
                row["map_mean"],
                flush=True,
            )
    results["fitted_head_weights_all_sequences"] = fitted_all
    results["detections"] = detection_rows(
        args.data, sorted({p["gt_file"] for p in people}), args.threads
    )
    results["timing"] = {}
    for threads in (int(t) for t in args.timing_threads.split(",")):
        results["timing"].update(timing(net, args.weights, threads, args.repeat))
    print(results["timing"])
    write_results("blazepose_sample", results, markdown(results), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
