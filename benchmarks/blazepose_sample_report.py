"""The tables and the sample sheet of ``benchmarks/blazepose_sample.py``."""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.machine import machine_line
from harness.report import md_table


def sample_figure(
    crops: np.ndarray, keypoints: np.ndarray, people: list[dict[str, Any]], mats: np.ndarray
) -> bytes:
    """PNG sheet of the first 8 crops: predicted skeleton (green, head points red) and the
    annotated joints (white rings)."""
    import cv2

    from semapose.data.transforms import transform_points
    from semapose.keypoints import POSETRACK_SKELETON

    tiles = []
    for i in range(min(8, len(crops))):
        im = cv2.cvtColor(crops[i], cv2.COLOR_RGB2BGR).copy()
        gt = transform_points(people[i]["person"].keypoints, mats[i])
        for j in np.flatnonzero(people[i]["person"].visibility > 0):
            cv2.circle(im, (int(gt[j, 0]), int(gt[j, 1])), 5, (255, 255, 255), 1)
        pts = keypoints[i].astype(int)
        for a, b in POSETRACK_SKELETON:
            cv2.line(im, tuple(pts[a]), tuple(pts[b]), (0, 255, 0), 1)
        for j, (x, y) in enumerate(pts):
            cv2.circle(im, (int(x), int(y)), 3, (0, 0, 255) if j in (1, 2) else (255, 255, 0), -1)
        tiles.append(im)
    while len(tiles) < 8:
        tiles.append(np.zeros_like(tiles[0]))
    sheet = np.concatenate([np.concatenate(tiles[:4], 1), np.concatenate(tiles[4:], 1)], 0)
    ok, png = cv2.imencode(".png", sheet)
    assert ok
    return png.tobytes()


def markdown(r: dict[str, Any]) -> str:
    def ap(row: dict[str, Any], key: str) -> Any:
        value = row["map"].get(key)
        return "" if value is None else round(float(value), 1)

    keys = [k for k in r["rows"][0]["map"] if not isinstance(r["rows"][0]["map"][k], dict)]
    wanted = [k for k in ("Head", "Shoulder", "Elbow", "Wrist", "Hip", "Knee", "Ankle", "Mean")]
    cols = [k for k in wanted if k in keys] or keys[:8]
    rows = [
        [
            x["enlarge"],
            x["decoding"],
            x["head_rule"],
            x["pckh_13"],
            x["pckh_head_bottom"],
            x["pckh_head_top"],
            *[ap(x, k) for k in cols],
        ]
        for x in r["rows"]
    ]
    lines = [
        f"BlazePose GHUM full on the PoseTrack18 sample ({r['people']} people, {r['frames']} "
        f"frames, GT boxes). `{r['command']}`",
        "",
        md_table(
            [
                "enlarge",
                "decoding",
                "head rule",
                "PCKh@0.5 13 joints",
                "head_bottom",
                "head_top",
                *[f"mAP {c}" for c in cols],
            ],
            rows,
        ),
        "",
        "With the sample's detection file through the product road (`semapose predict "
        "--boxes`, the command itself, every box kept as given; joint score = heatmap "
        "maximum x the key crop's pose-present score; SAMPLE = the PoseTrack18 sample, "
        "DETECTIONS = SAMPLE/annotations/test_posetrack18_human_detections.json):",
        "",
        md_table(
            ["weights", "command", "persons written", *[f"mAP {c}" for c in cols]],
            [
                [
                    d["weights"],
                    f"`{d['command']}`",
                    d["persons_written"],
                    *[ap(d, k) for k in cols],
                ]
                for d in r.get("detections", [])
            ],
        ),
        "",
        md_table(
            ["ms per crop", "median", "fastest run"],
            [
                [k.replace("_", " "), v["ms_per_crop"], v["ms_per_crop_min"]]
                for k, v in r["timing"].items()
            ],
        ),
        "",
        f"Timing on {machine_line(r['machine'])}; the machine was shared with other jobs "
        "(within one thread count the timings alternate round by round).",
        "",
    ]
    return "\n".join(lines)
