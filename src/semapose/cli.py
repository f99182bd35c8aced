"""The ``semapose`` command line: one entry point, one sub-command per job.

Each sub-command lives in ``semapose.commands.<name>`` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import
heavy dependencies (torch, av) inside ``run`` so ``semapose --help`` is fast.
Errors of type :class:`SemaposeError` become one line on stderr and exit code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from semapose.errors import SemaposeError

#: name -> one-line purpose. Order is the order of ``--help``.
COMMANDS: dict[str, str] = {
    "demo": "generate a degraded synthetic clip, run the bundled model, write overlay + JSON",
    "predict": "tracked keypoints (PoseTrack/COCO JSON) and an overlay video for videos or frames",
    "train": "train a model from a YAML config (CPU, GPU, multi-GPU/multi-node via torchrun)",
    "evaluate": "score PoseTrack predictions with poseval-exact mAP (plus COCO AP, tracking)",
    "synth": "generate synthetic degraded multi-person video with exact ground truth",
    "export": "export a model to ONNX (backbone and clip decoder as separate graphs)",
}


def build_parser() -> argparse.ArgumentParser:
    from semapose import __version__

    parser = argparse.ArgumentParser(
        prog="semapose",
        description="Video human pose estimation robust to occlusion, blur and defocus.",
    )
    parser.add_argument("--version", action="version", version=f"semapose {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, purpose in COMMANDS.items():
        p = sub.add_parser(name, help=purpose, description=purpose)
        p.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
        module = _command_module(name)
        if module is not None:
            module.add_arguments(p)
    return parser


def _command_module(name: str):  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module(f"semapose.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"semapose.commands.{name}":
            return None
        raise


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    module = _command_module(args.command)
    if module is None:
        print(f"semapose {args.command}: not built yet", file=sys.stderr)
        return 2
    try:
        return int(module.run(args) or 0)
    except SemaposeError as exc:
        if args.debug:
            raise
        print(f"semapose {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"semapose {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
