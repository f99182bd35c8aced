"""``semapose demo``: synthetic degraded clip -> temporal vs single-frame poses, videos + JSON."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", default="semapose_demo", help="output folder (default: ./semapose_demo)"
    )
    from semapose.weights.resolve import DEMO_SINGLE_WEIGHTS, DEMO_WEIGHTS

    parser.add_argument(
        "--weights", default=None, help=f"temporal model weights (default: {DEMO_WEIGHTS})"
    )
    parser.add_argument(
        "--single-weights",
        default=None,
        help=f"single-frame baseline weights (default: {DEMO_SINGLE_WEIGHTS})",
    )
    parser.add_argument("--frames", type=int, default=40, help="length of the generated clip")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from semapose.errors import InputError
    from semapose.inference.demo import run_demo

    if not 8 <= args.frames <= 2000:
        raise InputError(None, "--frames", "a clip length in [8, 2000]", args.frames)
    if args.device in ("auto", "cpu"):
        import torch

        # The demo's tiny model does too little work per operation for intra-op threads to
        # pay off; on a busy 2-core machine one thread is 3x faster than two.
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    r = run_demo(Path(args.out), args.weights, args.single_weights, args.frames, args.device)
    for note in r.notes:
        print(f"semapose demo: {note}", file=sys.stderr)
    dt = time.perf_counter() - t0
    print(f"synthetic clip with occluders and motion blur: {r.clip} ({r.frames} frames)")
    print(f"overlay video (temporal model):  {r.overlay}")
    print(f"side-by-side:                    {r.side_by_side}")
    print(f"  panels: {' | '.join(r.titles)}")
    print("  (red crosses: joints the single-frame model misses; green rings: joints the")
    print("   neighbouring frames brought back -- right with them, wrong with the key frame alone)")
    if r.neighbour_png is not None:
        print(
            f"frame where the neighbours made the most difference (frame {r.neighbour_frame}, "
            f"{r.neighbour_recovered} joints over the clip): {r.neighbour_png}"
        )
    else:
        print("no frame where the neighbours brought back a joint (key frame alone does as well)")
    print(f"PoseTrack JSON:                  {r.posetrack}")
    print(f"COCO results JSON:               {r.coco}")
    print(f"ground truth:                    {r.ground_truth}")
    print(
        f"PCKh@0.5 all joints: temporal {r.pckh_temporal:.1%}, same weights key frame alone "
        f"{r.pckh_key_only:.1%}, single-frame {r.pckh_single:.1%}; on degraded persons: "
        f"temporal {r.pckh_temporal_degraded:.1%}, key frame alone "
        f"{r.pckh_key_only_degraded:.1%}, single-frame {r.pckh_single_degraded:.1%}"
    )
    print(f"done in {dt:.1f} s")
    return 0
