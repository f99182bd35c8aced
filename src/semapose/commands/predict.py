"""``semapose predict``: tracked keypoints and an overlay video for videos or frame folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

#: detector names (kept here so --help does not import the detectors)
DETECTOR_CHOICES = ("ssdlite", "yolox-tiny", "yolox-m")
#: same value as semapose.inference.tracking.DEFAULT_DETECT_EVERY (a test checks)
DEFAULT_DETECT_EVERY = 10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input",
        help="a video file, an image, a folder of frames or photos, a folder of videos / frame "
        "folders / images, a URL PyAV opens (http://, rtsp://, file://, ...) or - (a video "
        "piped on standard input)",
    )
    parser.add_argument("--out", required=True, help="output folder")
    from semapose.weights.resolve import SINGLE_FRAME_WEIGHTS, WEIGHTS_HELP

    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--weights", default=None, help=WEIGHTS_HELP)
    weights.add_argument(
        "--single-frame",
        dest="weights",
        action="store_const",
        const=SINGLE_FRAME_WEIGHTS,
        help="the single-frame model, no temporal module "
        f"(same as --weights {SINGLE_FRAME_WEIGHTS})",
    )
    boxes = parser.add_mutually_exclusive_group()
    boxes.add_argument(
        "--boxes",
        default=None,
        help="person boxes file (mmpose/PoseWarper JSON) or a folder of <name>.json per input",
    )
    boxes.add_argument(
        "--detector",
        default=None,
        help=f"person detector: {', '.join(DETECTOR_CHOICES)} (default: ssdlite, offline; "
        "yolox-* download once)",
    )
    parser.add_argument(
        "--detect-every",
        type=int,
        default=DEFAULT_DETECT_EVERY,
        metavar="K",
        help="run the person detector every K frames and whenever a tracked person's pose score "
        "falls; in between, each person's crop follows their pose. Only for models that give a "
        "pose-present score (BlazePose); other models detect every frame "
        f"(default: {DEFAULT_DETECT_EVERY}; 1 = every frame)",
    )
    parser.add_argument(
        "--smooth",
        action="store_true",
        help="One-Euro filter on the written keypoints (per person and joint, past frames only): "
        "steadier keypoints, a little lag on fast motion",
    )
    parser.add_argument(
        "--online",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="use past frames only (no delay); the default for live input (- and rtsp://, "
        "udp://, ...), --no-online to wait for future frames there too",
    )
    parser.add_argument(
        "--images",
        choices=("auto", "frames", "photos"),
        default="auto",
        help="a folder of images: the frames of one video, or photos each processed alone "
        "(auto: frames when all images have one size, else photos; a single image is a photo)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue an interrupted run in the same --out"
    )
    parser.add_argument(
        "--device",
        default="auto",
        help="auto, cpu, cuda or cuda:N (the pose model and the person detector)",
    )
    parser.add_argument("--batch", type=int, default=None, help="crops per forward pass")
    parser.add_argument("--no-video", action="store_true", help="skip the overlay MP4")
    flip = parser.add_mutually_exclusive_group()
    flip.add_argument("--flip", dest="flip", action="store_true", default=None, help="flip test")
    flip.add_argument("--no-flip", dest="flip", action="store_false", help="no flip test")
    parser.add_argument(
        "--crop",
        choices=("track", "key"),
        default="track",
        help="track: each frame cropped once with its own box, features reused (default); "
        "key: every clip frame cropped with the key frame's box (paper; T times the backbone)",
    )
    parser.add_argument("--fps", type=float, default=None, help="frame rate of frame folders")
    parser.add_argument(
        "--max-frames",
        type=int,
        default=None,
        help="stop each input after this many new frames, resumable with --resume",
    )
    parser.add_argument(
        "--checkpoint-every", type=int, default=50, help="frames between resumable states"
    )
    from semapose.threads import THREADS_HELP

    parser.add_argument("--threads", type=int, default=0, help=THREADS_HELP)
    parser.add_argument(
        "--pose-threshold",
        type=float,
        default=0.5,
        metavar="S",
        help="output a followed person while their pose-present score is at least S "
        "(models with one, e.g. BlazePose; default 0.5)",
    )
    parser.add_argument(
        "--draw-threshold",
        type=float,
        default=0.3,
        metavar="S",
        help="joints (and landmarks) scoring below S are not drawn on the overlay (default 0.3)",
    )
    parser.add_argument(
        "--draw-hidden",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="draw persons the tracker keeps while someone hides them (dashed box, no "
        'skeleton; they are flagged "hidden" in every output either way)',
    )
    parser.add_argument(
        "--landmarks",
        type=int,
        choices=(17, 33),
        default=17,
        help="33: also write BlazePose's 33 landmarks (x, y, visibility, presence) of each "
        "person's crop beside the 17 joints, and draw them (default 17)",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="also write report/<name>.html: one self-contained page to look at the run "
        "(overlay, ids over time, joint confidence, trajectories and angles; semapose report)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from semapose.errors import InputError, SemaposeError, shown_path
    from semapose.inference.distributed import rank_info, shard
    from semapose.inference.predictor import Predictor

    if args.batch is not None and args.batch < 1:
        raise InputError(None, "--batch", "a positive integer", args.batch)
    if args.max_frames is not None and args.max_frames < 0:
        raise InputError(None, "--max-frames", "a non-negative integer", args.max_frames)
    if args.detect_every < 1:
        raise InputError(None, "--detect-every", "a positive integer", args.detect_every)
    for option, value in (("--pose-threshold", args.pose_threshold),
                          ("--draw-threshold", args.draw_threshold)):  # fmt: skip
        if not 0.0 <= value <= 1.0:
            raise InputError(None, option, "a score in [0, 1]", value)
    from semapose.commands.options import check_predict_options

    check_predict_options(args)
    from semapose.threads import check_threads, set_threads

    threads = set_threads(check_threads(args.threads))
    from semapose.inference.photos import PhotoSet
    from semapose.inference.predictor import scan_inputs
    from semapose.io.video import is_live, is_stream

    info = rank_info()
    scanned = scan_inputs(args.input if is_stream(args.input) else Path(args.input), args.images)
    inputs = scanned.items
    for note in scanned.notes:  # how inputs are read: information, on stdout
        print(f"semapose predict: {note}")
    if scanned.skipped:
        shown = ", ".join(shown_path(p.name) for p in scanned.skipped[:5])
        more = f" and {len(scanned.skipped) - 5} more" if len(scanned.skipped) > 5 else ""
        print(
            f"semapose predict: skipped {len(scanned.skipped)} entr"
            f"{'y' if len(scanned.skipped) == 1 else 'ies'} that are neither videos, images nor "
            f"folders of frames: {shown}{more}",
            file=sys.stderr,
        )
    online = args.online
    if online is None:
        online = len(inputs) == 1 and isinstance(inputs[0], str) and is_live(inputs[0])
        if online:
            print("semapose predict: live input: --online (past frames only; --no-online to "
                  "wait for future frames)", file=sys.stderr)  # fmt: skip
    mine = shard(inputs, info)
    tag = f"[rank {info.rank}/{info.world_size}] " if info.world_size > 1 else ""
    predictor = Predictor.create(
        weights=args.weights,
        device=args.device,
        local_rank=info.local_rank,
        online=online,
        flip=args.flip,
        batch=args.batch,
        crop=args.crop,
        landmarks=args.landmarks == 33,
    )
    predictor.detect_every = args.detect_every
    predictor.pose_threshold = args.pose_threshold
    for note in predictor.loaded.notes:
        print(f"semapose predict: {note}", file=sys.stderr)
    print(
        f"{tag}{len(mine)} of {len(inputs)} input(s), model {predictor.describe()}, "
        f"{threads} CPU thread{'s' if threads > 1 else ''}"
    )
    failures: list[tuple[str, str]] = []
    out = Path(args.out)
    for path in mine:
        try:
            result = predictor.run_one(
                path,
                out,
                boxes=args.boxes,
                detector=args.detector,
                smooth=args.smooth or None,
                multi=len(inputs) > 1,
                write_video=not args.no_video,
                resume=args.resume,
                max_frames=args.max_frames,
                checkpoint_every=args.checkpoint_every,
                fps=args.fps,
                progress=not args.quiet,
                draw_threshold=args.draw_threshold,
                draw_hidden=args.draw_hidden,
            )
        except SemaposeError as exc:
            if len(inputs) == 1 or getattr(args, "debug", False):
                raise  # one input: the CLI's single error line
            failures.append((str(path), str(exc)))
            print(f"semapose predict: {tag}error: {exc}", file=sys.stderr)
            continue
        p = result.paths
        where = "standard input" if path == "-" else shown_path(str(path))
        photos = isinstance(path, PhotoSet)
        if result.status == "skipped":
            print(f"{tag}{where}: already done ({shown_path(p.posetrack)})")
        elif result.status == "stopped":
            print(
                f"{tag}{where}: stopped after frame {result.frames} (--max-frames); "
                "run again with --resume to continue"
            )
        else:
            fps = result.frames / result.seconds if result.seconds > 0 else 0.0
            if photos:
                print(f"{tag}{where}: {result.frames} photo(s), each alone, {fps:.1f} photos/s")
            else:
                ended = " (ended by Ctrl-C)" if result.stats.get("interrupted") else ""
                print(f"{tag}{where}: {result.frames} frames{ended}, {fps:.1f} frames/s")
            print(f"  PoseTrack JSON: {shown_path(p.posetrack)}")
            print(f"  COCO results:   {shown_path(p.coco)}")
            print(f"  CSV (per joint): {shown_path(p.csv)}")
            if not args.no_video and photos:
                drawn = out / "images" / p.posetrack.stem
                print(f"  drawn photos:   {shown_path(drawn)}")
            elif not args.no_video:
                print(f"  overlay video:  {shown_path(p.video)}")
            if args.report:
                from semapose.report.page import write_report

                print(f"  report:         {shown_path(write_report(out, p.posetrack.stem))}")
    if failures:
        print(f"semapose predict: {tag}{len(failures)} input(s) failed:", file=sys.stderr)
        for path, msg in failures:
            shown = shown_path(path)
            print(f"  {msg}" if shown in msg else f"  {shown}: {msg}", file=sys.stderr)
        return 2
    return 0
