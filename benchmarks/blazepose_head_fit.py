"""Head rules (head_bottom / head_top from BlazePose's landmarks) fitted on synthetic people.

Usage::

    python benchmarks/blazepose_head_fit.py [--weights pose_landmark_full.tflite]
        [--videos 24] [--frames 30] [--step 6] [--seed 1] [--enlarge 1.5]

On the same synthetic people as ``tools/fit_blazepose_head.py`` (which fits the shipped
head channels), fits the sample benchmark's two head rules (4-weight and 1-parameter)
from BlazePose's refined regression to the exact head points. Writes
``benchmarks/results/blazepose_head_fit.{json,md}``; ``blazepose_sample.py`` scores the
rules on real people.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from blazepose_head_rules import fit_axis_weights, fit_head_weights, head_parts
from harness.cli import parser as bench_parser
from harness.machine import command_line, machine_info, set_threads
from harness.report import md_table, write_results

HEAD_SLOTS = {"head_bottom": 1, "head_top": 2}


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__, threads=2)
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--step", type=int, default=6)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--enlarge", type=float, default=1.5)
    args = parser.parse_args(argv)

    import torch

    from semapose.data.synthetic.crops import person_crops
    from semapose.models.backbones.blazepose_landmarks import refine_landmarks_torch
    from semapose.models.backbones.blazepose_tflite import load_blazepose

    set_threads(args.threads)
    net = load_blazepose(args.weights)
    crops, points, vis, head_sizes = person_crops(
        args.seed, args.videos, args.frames, args.step, args.enlarge
    )
    with torch.no_grad():
        outs = [
            net(torch.from_numpy(crops[i : i + 16]).permute(0, 3, 1, 2).float() / 255)
            for i in range(0, len(crops), 16)
        ]
    landmarks = torch.cat([o["landmarks"] for o in outs]).double()
    heatmaps = torch.cat([o["heatmaps"] for o in outs]).double()
    xy = refine_landmarks_torch(landmarks, heatmaps)[0].numpy()
    parts = head_parts(xy[:, :33] - 0.5)
    rules: dict[str, dict[str, tuple[float, ...]]] = {"4-weight": {}, "1-parameter": {}}
    rows = []
    for name, slot in HEAD_SLOTS.items():
        ok = vis[:, slot] > 0
        target = points[ok, slot]
        rules["4-weight"][name] = fit_head_weights(parts[ok], target, head_sizes[ok])
        rules["1-parameter"][name] = fit_axis_weights(parts[ok], target, head_sizes[ok])
        rows.append([name, int(ok.sum()), *np.round(rules["4-weight"][name], 4).tolist()])
    print("head rules fitted on synthetic people:", rules)
    results = {
        "command": command_line(),
        "machine": machine_info(args.threads),
        "people": len(crops),
        "rule_weights": rules,
    }
    md = (
        f"Head rules fitted on {len(crops)} synthetic people. `{command_line()}`\n\n"
        + md_table(["point", "people", "nose", "eyes", "ears", "shoulders"], rows)
        + "\n"
    )
    write_results("blazepose_head_fit", results, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
