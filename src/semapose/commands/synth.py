"""``semapose synth``: write synthetic degraded multi-person video with exact ground truth."""

from __future__ import annotations

import argparse
import re
import sys

from semapose.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (PoseTrack18 layout)")
    parser.add_argument("--videos", type=int, default=4, help="videos per split (default 4)")
    parser.add_argument("--frames", type=int, default=50, help="frames per video (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--size", default="256x256", help="frame size WxH (default 256x256)")
    parser.add_argument("--people", default="1-3", help="people per video, MIN-MAX (default 1-3)")
    parser.add_argument(
        "--degrade",
        default="all",
        help="degradations: 'all' (default, random severities), 'none', or "
        "TYPE[:SEVERITY],... with TYPE in motion_blur, defocus, occluder, noise, "
        "compression, low_light, frame_drop and SEVERITY 1-5",
    )
    parser.add_argument(
        "--rate", type=float, default=0.35, help="fraction of frames degraded (default 0.35)"
    )
    parser.add_argument(
        "--split",
        default="train",
        help="split name(s), comma separated, e.g. train,val,test (each has its own seeds)",
    )
    parser.add_argument("--no-video", action="store_true", help="skip the MP4 per sequence")


def _pair(text: str, sep: str, what: str, expected: str) -> tuple[int, int]:
    m = re.fullmatch(rf"\s*(\d+)\s*{sep}\s*(\d+)\s*", text)
    if m is None:
        raise InputError(None, what, expected, text)
    return int(m.group(1)), int(m.group(2))


def run(args: argparse.Namespace) -> int:
    from semapose.data.synthetic import generate_dataset, parse_degrade

    size = _pair(args.size, "[xX]", "--size", "WxH, e.g. 256x256")
    if re.fullmatch(r"\s*\d+\s*", args.people):
        people = (int(args.people), int(args.people))
    else:
        people = _pair(args.people, "-", "--people", "MIN-MAX, e.g. 1-3")
    parse_degrade(args.degrade)
    if not 0.0 <= args.rate <= 1.0:
        raise InputError(None, "--rate", "a fraction from 0 to 1", args.rate)
    if args.seed < 0:
        raise InputError(None, "--seed", "a non-negative integer", args.seed)
    splits = [s.strip() for s in args.split.split(",") if s.strip()]
    if not splits or len(set(splits)) != len(splits):
        raise InputError(None, "--split", "distinct split names, e.g. train,val,test", args.split)
    total = 0
    for split in splits:
        files = generate_dataset(
            args.out,
            args.videos,
            args.frames,
            args.seed,
            size=size,
            people=people,
            degrade=args.degrade,
            split=split,
            rate=args.rate,
            write_video=not args.no_video,
            progress=True,
        )
        total += len(files)
    print(f"semapose synth: wrote {total} files under {args.out}", file=sys.stderr)
    return 0
