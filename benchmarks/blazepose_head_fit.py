"""Fit BlazePose's head_bottom / head_top heatmap channels on synthetic video.

Usage::

    python benchmarks/blazepose_head_fit.py [--weights pose_landmark_full.tflite]
        [--videos 24] [--frames 30] [--step 6] [--seed 1] [--enlarge 1.5]

BlazePose has no head_bottom / head_top, which PoseTrack annotates. The synthetic
generator (semapose.data.synthetic) gives their exact positions. For every person of
``--videos`` clean synthetic videos (every ``--step``-th frame) this takes the square
crop of the box (``--enlarge``), BlazePose's stride-4 features (48 x 64 x 64), and the
codec's Gaussian target of each head point, then fits one 1x1 channel per point
(48 weights + bias, sigmoid output, mean squared error as the heads train, L-BFGS),
starting from the mean of BlazePose's mouth (head_bottom) / eye (head_top) channels.

Writes ``src/semapose/weights/blazepose_head.safetensors`` (read by
``semapose.models.backbones.blazepose.posetrack_head_state``) and
``benchmarks/results/blazepose_head_fit.{json,md}``. The sample measurement
(benchmarks/blazepose_sample.py) scores the result on real people.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import command_line, machine_info, md_table, set_threads, write_results  # noqa: E402

HEAD_SLOTS = {"head_bottom": 1, "head_top": 2}


def synthetic_crops(
    seed: int, videos: int, frames: int, step: int, enlarge: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Crops (N, 256, 256, 3) RGB, keypoints in crop pixels (N, 17, 2), visibility (N, 17),
    head sizes in crop pixels (N,) (poseval's 0.6 x head-box diagonal)."""
    import cv2

    from semapose.data.synthetic import iter_video
    from semapose.data.transforms import (
        box_to_center_scale,
        crop,
        get_affine_matrix,
        transform_points,
    )

    crops, points, vis, heads = [], [], [], []
    for v in range(videos):
        for frame in iter_video(seed, "train", v, frames, (512, 512), (1, 3), None):
            if frame.t % step:
                continue
            image = cv2.cvtColor(frame.clean, cv2.COLOR_BGR2RGB)
            for person in frame.people:
                kp = np.asarray(person["keypoints"], dtype=np.float64).reshape(17, 3)
                center, scale = box_to_center_scale(np.asarray(person["bbox"]), (256, 256), enlarge)
                m = get_affine_matrix(center, scale, 0.0, (256, 256))
                crops.append(crop(image, m, (256, 256)))
                points.append(transform_points(kp[:, :2], m))
                vis.append(kp[:, 2])
                hw = np.asarray(person["bbox_head"], dtype=np.float64)[2:]
                heads.append(0.6 * float(np.hypot(*hw)) * float(np.hypot(*m[0, :2])))
    return np.stack(crops), np.stack(points), np.stack(vis), np.array(heads)


def fit_channel(
    features: Any, targets: Any, w0: Any, b0: Any, iters: int
) -> tuple[Any, Any, float, float]:
    """Weights, bias, and the mean squared error before and after the fit."""
    import torch

    def mse(w: Any, b: Any) -> float:
        with torch.no_grad():
            pred = torch.sigmoid(torch.einsum("nchw,c->nhw", features, w) + b)
            return float(((pred - targets) ** 2).mean())

    initial = mse(w0, b0)

    w = w0.clone().requires_grad_(True)
    b = b0.clone().reshape(1).requires_grad_(True)
    opt = torch.optim.LBFGS([w, b], max_iter=iters, line_search_fn="strong_wolfe")

    def loss_fn() -> Any:
        opt.zero_grad()
        pred = torch.sigmoid(torch.einsum("nchw,c->nhw", features, w) + b)
        loss = ((pred - targets) ** 2).mean()
        loss.backward()
        return loss

    opt.step(loss_fn)
    return w.detach(), b.detach(), initial, mse(w, b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--step", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--enlarge", type=float, default=1.5)
    parser.add_argument("--iters", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="default: the bundled file")
    args = parser.parse_args(argv)

    import torch

    from semapose.data.codec import HeatmapCodec
    from semapose.models.backbones import blazepose_head as bph
    from semapose.models.backbones import blazepose_tflite as bpt
    from semapose.weights.read import save_state_dict_file

    set_threads(args.threads)
    torch.manual_seed(0)
    net = bpt.load_blazepose(args.weights)
    crops, points, vis, head_sizes = synthetic_crops(
        args.seed, args.videos, args.frames, args.step, args.enlarge
    )
    with torch.no_grad():
        outs = [
            net(torch.from_numpy(crops[i : i + 16]).permute(0, 3, 1, 2).float() / 255)
            for i in range(0, len(crops), 16)
        ]
    feats = torch.cat([o["features"] for o in outs])
    landmarks = torch.cat([o["landmarks"] for o in outs]).numpy()
    heatmaps = torch.cat([o["heatmaps"] for o in outs]).numpy()
    codec = HeatmapCodec((256, 256), stride=4, sigma=2.0)
    w_all = net.heatmap.weight.detach()[:, :, 0, 0]
    b_all = net.heatmap.bias.detach()
    tensors: dict[str, torch.Tensor] = {}
    rows = []
    for name, slot in HEAD_SLOTS.items():
        chans = list(bph._HEAD_FALLBACK_CHANNELS[slot])
        ok = vis[:, slot] > 0
        targets = torch.from_numpy(
            np.stack([codec.encode(p[slot][None], np.ones(1))[0][0] for p in points[ok]])
        )
        w, b, initial, loss = fit_channel(
            feats[torch.from_numpy(ok)],
            targets,
            w_all[chans].mean(0),
            b_all[chans].mean(),
            args.iters,
        )
        tensors[f"{name}.weight"], tensors[f"{name}.bias"] = w.contiguous(), b.contiguous()
        rows.append([name, int(ok.sum()), round(initial, 6), round(loss, 6)])
        print(f"{name}: {int(ok.sum())} people, mean squared error {initial:.6f} -> {loss:.6f}")
    # the head rule's constants fitted on the same people, from BlazePose's refined
    # regression (the sample benchmark scores them against the hand rule)
    from blazepose_sample import fit_axis_weights, fit_head_weights, head_parts

    xy, _ = bp.refine_landmarks(landmarks, heatmaps)
    parts = head_parts(xy[:, :33] - 0.5)
    rules: dict[str, dict[str, tuple[float, ...]]] = {"4-weight": {}, "1-parameter": {}}
    for name, slot in HEAD_SLOTS.items():
        ok = vis[:, slot] > 0
        target = points[ok, slot]
        rules["4-weight"][name] = fit_head_weights(parts[ok], target, head_sizes[ok])
        rules["1-parameter"][name] = fit_axis_weights(parts[ok], target, head_sizes[ok])
    print("head rules fitted on synthetic people:", rules)
    out = args.out or bph.head_fit_path()
    meta = {
        "what": "BlazePose head_bottom/head_top 1x1 channels (48 weights + bias, sigmoid)",
        "fitted_by": command_line(),
        "synthetic": f"seed {args.seed}, {args.videos} videos x {args.frames} frames, "
        f"every {args.step}th",
        "people": str(len(crops)),
        "enlarge": str(args.enlarge),
    }
    save_state_dict_file(out, tensors, meta)
    results = {
        "command": command_line(),
        "machine": machine_info(args.threads),
        "people": len(crops),
        "file": str(out),
        "rule_weights": rules,
        "rows": [
            dict(zip(["point", "people", "mse_initial", "mse"], r, strict=True)) for r in rows
        ],
    }
    md = (
        f"Head channels fitted on {len(crops)} synthetic people. `{command_line()}`\n\n"
        + md_table(["point", "people", "MSE at the mouth/eye start", "MSE fitted"], rows)
        + "\n"
    )
    write_results("blazepose_head_fit", results, md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
