"""Fit the shipped head_bottom / head_top channels of BlazePose's PoseTrack head.

Usage::

    PYTHONPATH=src python tools/fit_blazepose_head.py [--weights pose_landmark_full.tflite]
        [--videos 24] [--frames 30] [--step 6] [--seed 1] [--enlarge 1.5] [--out FILE]

BlazePose has no head_bottom / head_top, which PoseTrack annotates. The synthetic
generator (semapose.data.synthetic) gives their exact positions. For every person of
``--videos`` clean synthetic videos (every ``--step``-th frame) this takes the square
crop of the box (``--enlarge``), BlazePose's stride-4 features (48 x 64 x 64), and the
codec's Gaussian target of each head point, then fits one 1x1 channel per point
(48 weights + bias, sigmoid output, mean squared error as the heads train, L-BFGS),
starting from the mean of BlazePose's mouth (head_bottom) / eye (head_top) channels.

Writes ``src/semapose/weights/blazepose_head.safetensors`` (read by
``semapose.models.backbones.blazepose_head.posetrack_head_state``) with its provenance
in the file's metadata: this command, the git commit, the BlazePose file's SHA-256, the
synthetic set, the people count and the fit's errors. ``semapose/weights/NOTICE``
names this script. The head *rules* fitted on the same people are a measurement:
``benchmarks/blazepose_head_fit.py``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

HEAD_SLOTS = {"head_bottom": 1, "head_top": 2}
ROOT = Path(__file__).resolve().parents[1]


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


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, default=None, help="default: the fetched asset")
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
    from semapose.data.synthetic.crops import person_crops
    from semapose.models.backbones import blazepose_head as bph
    from semapose.models.backbones.blazepose_tflite import load_blazepose
    from semapose.weights.download import sha256_file
    from semapose.weights.read import save_state_dict_file

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.weights is None:
        from semapose.weights.assets import fetch_asset

        args.weights = fetch_asset("blazepose_full")
    net = load_blazepose(args.weights)
    crops, points, vis, _ = person_crops(
        args.seed, args.videos, args.frames, args.step, args.enlarge
    )
    with torch.no_grad():
        outs = [
            net(torch.from_numpy(crops[i : i + 16]).permute(0, 3, 1, 2).float() / 255)
            for i in range(0, len(crops), 16)
        ]
    feats = torch.cat([o["features"] for o in outs])
    codec = HeatmapCodec((256, 256), stride=4, sigma=2.0)
    w_all = net.heatmap.weight.detach()[:, :, 0, 0]
    b_all = net.heatmap.bias.detach()
    tensors: dict[str, torch.Tensor] = {}
    errors: dict[str, dict[str, float | int]] = {}
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
        errors[name] = {"people": int(ok.sum()), "mse_initial": initial, "mse": loss}
        print(f"{name}: {int(ok.sum())} people, mean squared error {initial:.6f} -> {loss:.6f}")
    out = args.out or bph.head_fit_path()
    command = "python tools/fit_blazepose_head.py " + shlex.join(argv or sys.argv[1:])
    meta = {
        "what": "BlazePose head_bottom/head_top 1x1 channels (48 weights + bias, sigmoid)",
        "fitted_by": command.strip(),
        "commit": _commit(),
        "blazepose_sha256": sha256_file(args.weights),
        "synthetic": f"seed {args.seed}, {args.videos} videos x {args.frames} frames, "
        f"every {args.step}th",
        "people": str(len(crops)),
        "enlarge": str(args.enlarge),
        "torch": torch.__version__,
        "errors": json.dumps(errors),
    }
    save_state_dict_file(out, tensors, meta)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
