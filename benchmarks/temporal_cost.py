"""Cost of each temporal variant on BlazePose: parameters, FLOPs, CPU ms per person-frame.

Usage::

    python benchmarks/temporal_cost.py [--people 4] [--repeat 7]

The variants and sizes of ``benchmarks/temporal_real.py`` (256 x 256 crops, 48 x 64 x 64
features, T = 5). FLOPs: :func:`semapose.models.flops.count_flops` (multiply-adds, as
the pose literature counts "FLOPs"). CPU time, one thread, ``people`` persons per
frame, as ``predict`` runs with its feature cache: each crop is encoded once (the
backbone), then each person's clip is decoded (temporal module + head) -- so the
temporal part is what a variant adds to single-frame. Medians; the machine is shared.
Writes ``benchmarks/results/temporal_cost.{json,md}``.
"""

from __future__ import annotations

from typing import Any

from harness.cli import parser
from harness.machine import command_line, machine_info, machine_line, set_threads
from harness.report import md_table, write_results
from harness.timing import time_calls

VARIANTS = (
    "single_frame",
    "temporal_difference",
    "heatmap_warping",
    "ours_full",
    "ours_pixel",
    "ours_fuse",
)


def measure(variant: str, people: int, repeat: int) -> dict[str, Any]:
    import torch

    import temporal_real as T
    from semapose.models.flops import count_flops

    profile = dict(T.PROFILES["full"])
    profile["overrides"] = ["model.backbone_weights="]  # random weights: cost only
    cfg, model = T.build(profile, variant)
    h, w = cfg.data.image_size
    t = len(cfg.data.offsets) + 1
    crop = torch.randn(1, 3, h, w)
    feats = torch.randn(1, t, model.feature_channels, h // 4, w // 4)
    with torch.no_grad():
        backbone_macs = count_flops(model.backbone, crop)
        temporal_macs = count_flops(model.temporal, feats)
        head_macs = count_flops(model.head, feats[:, 0])
        crops = torch.randn(people, 3, h, w)
        clips = torch.randn(people, t, model.feature_channels, h // 4, w // 4)
        enc = time_calls(lambda: model.encode_frames(crops), repeat=repeat)
        dec = time_calls(lambda: model.decode_clip(clips), repeat=repeat)
    params = model.param_count(inference_only=True)
    return {
        "variant": variant,
        "params_temporal_deploy": params["temporal"],
        "params_head": params["head"],
        "params_backbone": params["backbone"],
        "gmacs_backbone_per_frame": backbone_macs / 1e9,
        "gmacs_temporal_per_clip": temporal_macs / 1e9,
        "gmacs_head": head_macs / 1e9,
        "cpu_ms_encode_per_person": 1e3 * enc["median_s"] / people,
        "cpu_ms_decode_per_person": 1e3 * dec["median_s"] / people,
        "cpu_ms_per_person_frame": 1e3 * (enc["median_s"] + dec["median_s"]) / people,
    }


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__)
    ap.add_argument("--people", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    set_threads(1)
    rows = [measure(v, args.people, args.repeat) for v in VARIANTS]
    info = machine_info(threads=1)
    single = rows[0]["cpu_ms_per_person_frame"]
    md = [
        "# Cost of the temporal variants at BlazePose (256 x 256, T = 5)",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {machine_line(info)} (shared with other jobs: timings are noisy)",
        "",
        md_table(
            [
                "variant",
                "temporal params (deploy)",
                "GMACs temporal / clip",
                "GMACs backbone / frame",
                "CPU ms / person-frame",
                "of which decode",
                "x single-frame",
            ],
            [
                [
                    r["variant"],
                    r["params_temporal_deploy"],
                    r["gmacs_temporal_per_clip"],
                    r["gmacs_backbone_per_frame"],
                    r["cpu_ms_per_person_frame"],
                    r["cpu_ms_decode_per_person"],
                    r["cpu_ms_per_person_frame"] / single,
                ]
                for r in rows
            ],
        ),
        "",
        f"{args.people} people per frame, 1 thread, medians of {args.repeat}; with the "
        "feature cache each crop is encoded once and each person's 5-frame clip decoded "
        "once. Head: 1x1 convolution 48 -> 17 "
        f"({rows[0]['params_head']} parameters); backbone {rows[0]['params_backbone']} "
        "parameters.",
    ]
    write_results(
        "temporal_cost",
        {"command": command_line(), "machine": info, "people": args.people, "rows": rows},
        "\n".join(md),
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
