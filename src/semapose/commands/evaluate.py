"""``semapose evaluate``: poseval-exact PoseTrack mAP (plus COCO AP, robustness, tracking).

RESULT.json (``--out``) holds exactly the mAP dict (per-joint AP, Head ...
Ankle, Mean; percent). The optional extras are written beside it:
``<out>.coco.json``, ``<out>.degradation.json``, ``<out>.tracking.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gt", required=True, help="folder of PoseTrack GT JSON files (or a file)")
    parser.add_argument(
        "--pred", required=True, help="folder with one prediction file per GT file (same name)"
    )
    parser.add_argument("--out", help="write the mAP result here (RESULT.json)")
    parser.add_argument(
        "--protocol",
        choices=["poseval", "posetrack21"],
        default="poseval",
        help="joint-presence rule: poseval (default) or PoseTrack21's (x > 0 and y > 0)",
    )
    parser.add_argument("--coco", action="store_true", help="also COCO OKS AP via pycocotools")
    parser.add_argument(
        "--by-degradation",
        action="store_true",
        help="also mAP per degradation type/severity and on clean frames (synthetic sets)",
    )
    parser.add_argument(
        "--track", action="store_true", help="also poseval's MOTA/MOTP (needs motmetrics)"
    )


def _sibling(out: Path, kind: str) -> Path:
    return out.with_name(f"{out.stem}.{kind}.json")


def run(args: argparse.Namespace) -> int:
    from semapose.evaluation.posetrack_map import compute_map, match
    from semapose.evaluation.poseval_io import load_eval_set
    from semapose.evaluation.report import coco_table, map_table, rows_table, tracking_table
    from semapose.io.atomic import atomic_write_json

    es = load_eval_set(args.gt, args.pred, args.protocol)
    matching = match(es)
    result = compute_map(es, matching, protocol=args.protocol).to_dict()
    print(f"{es.num_frames} frames, {len(es.seq_names)} sequences, protocol {args.protocol}")
    print(map_table(result, "mAP"))
    out = Path(args.out) if args.out else None
    if out is not None:
        atomic_write_json(out, result, indent=2)
        print(f"wrote {out}")
    if args.coco:
        from semapose.evaluation.coco_ap import evaluate_coco

        coco = evaluate_coco(es)
        print(coco_table(coco))
        if out is not None:
            atomic_write_json(
                _sibling(out, "coco"), {k: (v if v == v else None) for k, v in coco.items()}
            )
    if args.by_degradation:
        from semapose.evaluation.robustness import evaluate_by_degradation

        rob = evaluate_by_degradation(es, matching, args.protocol)
        rows = {"clean": rob["clean"], **rob["by_type"]}
        print(rows_table(rows, "degradation"))
        for t, sevs in rob["by_severity"].items():
            print(rows_table({f"{t} s={s}": r for s, r in sevs.items()}, "severity"))
        if out is not None:
            atomic_write_json(_sibling(out, "degradation"), rob, indent=2)
    if args.track:
        from semapose.evaluation.tracking import evaluate_tracking

        track = evaluate_tracking(es, matching)
        print(tracking_table(track))
        if out is not None:
            atomic_write_json(_sibling(out, "tracking"), track, indent=2)
    return 0
