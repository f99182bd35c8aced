"""``semapose report OUT [--name NAME] [--embed-video]``: one HTML page per run in OUT.

OUT is a ``semapose predict --out`` folder; every finished input in it (its
``posetrack/<name>.json``) gets ``report/<name>.html``: the overlay video, a timeline of
ids (seen / hidden / lost), joint confidence over time, joint trajectories and knee / hip /
elbow angles with the One-Euro smoothing on and off, the run's settings and speed. The
page is self-contained (no network at view time); the video is linked relatively
(``--embed-video`` puts it inside the page).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="a semapose predict --out folder")
    parser.add_argument(
        "--name", default=None, help="only this input (default: every input in OUT)"
    )
    parser.add_argument(
        "--embed-video",
        action="store_true",
        help="put the overlay video inside the page (one file to send; larger)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from semapose.errors import InputError, shown_path
    from semapose.report.page import report_names, write_report

    out = Path(args.out)
    if not out.is_dir():
        raise InputError(out, "", "a semapose predict --out folder", "missing")
    names = [args.name] if args.name else report_names(out)
    if not names:
        raise InputError(out / "posetrack", "", "finished predict outputs (<name>.json)", "none")
    for name in names:
        print(f"{name}: {shown_path(write_report(out, name, args.embed_video))}")
    return 0
