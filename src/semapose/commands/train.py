"""``semapose train CONFIG [key=value ...] [--resume] [--device DEV]``.

One process: ``semapose train configs/synthetic_cpu_tiny.yaml``. Several GPUs or
nodes: start the same command under ``torchrun`` (see docs/training.md), e.g.
``torchrun --nproc_per_node=8 -m semapose.cli train CONFIG``.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML config (see configs/)")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key=value",
        help="config overrides, e.g. train.lr=1e-4 data.root=/data/posetrack18",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue from the last checkpoint in train.output_dir (exactly where it stopped)",
    )
    parser.add_argument("--device", default=None, help="auto, cpu, cuda or cuda:N (train.device)")
    parser.add_argument(
        "--output-dir", default=None, help="run folder (train.output_dir): checkpoints, logs"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from semapose.config import load_config
    from semapose.engine.run import train

    overrides = list(args.overrides)
    if args.device:
        import os

        from semapose.device import resolve_device

        resolve_device(args.device, "--device", int(os.environ.get("LOCAL_RANK", "0") or 0))
        overrides.append(f"train.device={args.device}")
    if args.output_dir:
        overrides.append(f"train.output_dir={args.output_dir}")
    cfg = load_config(args.config, overrides)
    summary = train(cfg, resume=args.resume, progress=not args.no_progress)
    print(json.dumps(summary, default=str), file=sys.stderr)
    return 0
