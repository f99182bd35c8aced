"""Time of training-time validation (it runs the prediction pipeline over whole sequences).

Usage::

    python benchmarks/validate_speed.py [--videos 3] [--frames 24] [--runs 3] [--threads 1]

Generates a synthetic validation set (``--videos`` sequences of ``--frames`` frames,
256x192, 1-3 people, seed 1) once into ``runs/bench_cache``, then times
``Validator(model, step)`` (median over ``--runs``) with a random tiny model
(64x48 crops, T = 5, flip test): reading every frame, tracking the ground-truth
boxes, encoding each (frame, person) crop once, decoding the key frames, writing
the prediction files and scoring mAP. Prints a table and saves
``benchmarks/results/validate_speed.{json,md}``.
"""

from __future__ import annotations

from harness.cli import parser
from harness.machine import command_line, machine_info, machine_line, set_threads
from harness.models import tiny_cfg, tiny_model
from harness.paths import CACHE
from harness.report import md_table, write_results
from harness.timing import time_calls


def main(argv: list[str] | None = None) -> int:
    ap = parser(__doc__, threads=1)
    ap.add_argument("--videos", type=int, default=3)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    set_threads(args.threads)

    import torch

    from semapose.data.loader import build_dataset
    from semapose.data.synthetic.generate import generate_dataset
    from semapose.engine.validate import Validator
    from semapose.evaluation.poseval_io import gt_files_in

    root = CACHE / f"validate_speed_{args.videos}x{args.frames}"
    if not (root / "annotations" / "val").is_dir():
        generate_dataset(root, args.videos, args.frames, seed=1, size=(256, 192),
                         people=(1, 3), split="val", write_video=False)  # fmt: skip
    cfg = tiny_cfg()
    cfg.data.dataset = "synthetic"
    cfg.data.root = str(root)
    cfg.data.val_annotations = str(root / "annotations" / "val")
    cfg.data.num_workers = 0
    out = CACHE / "validate_speed_out"
    model = tiny_model(cfg).eval()
    dataset = build_dataset(cfg, "val")
    validator = Validator(cfg, dataset, gt_files_in(cfg.data.val_annotations), out)
    metrics: dict[str, float] = {}

    def once() -> None:
        nonlocal metrics
        with torch.no_grad():
            metrics = validator(model, 0)

    timing = time_calls(once, repeat=args.runs, warmup=1)
    boxes = len(validator.indices)
    info = machine_info(args.threads)
    data = {
        "command": command_line(),
        "machine": info,
        "videos": args.videos,
        "frames": args.frames,
        "boxes": boxes,
        "seconds": timing,
        "boxes_per_s": boxes / timing["median_s"],
        "mAP_random_model": metrics.get("mAP"),
    }
    rows = [[f"{args.videos} x {args.frames}", boxes, timing["median_s"],
             boxes / timing["median_s"]]]  # fmt: skip
    md = "\n".join(
        [
            "# Training-time validation (prediction pipeline over whole sequences)",
            "",
            md_table(["sequences x frames", "GT boxes", "median s", "boxes/s"], rows),
            "",
            f"`{data['command']}`; random tiny model (64x48 crops, T = 5, flip test); "
            f"{machine_line(info)}. The machine is shared with other jobs.",
        ]
    )
    write_results("validate_speed", data, md, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
