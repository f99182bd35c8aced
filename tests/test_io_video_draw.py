"""Drawing (semapose.viz) and the frames -> boxes -> tracks -> overlay video chain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from semapose.inference.tracking import Track, Tracker
from semapose.io.video import FrameSource, VideoWriter
from semapose.viz import draw_box, draw_persons, draw_pose, side_by_side, track_color
from test_predict_helpers import NO_SSDLITE, ssdlite_available


def test_track_colors_distinct_and_stable() -> None:
    colors = [track_color(i) for i in range(12)]
    assert len(set(colors)) == 12 and track_color(3) == colors[3]
    assert all(0 <= c <= 255 for rgb in colors for c in rgb)


def test_draw_pose_skips_low_scores_and_keeps_input() -> None:
    img = np.zeros((100, 100, 3), np.uint8)
    kp = np.zeros((17, 2))
    kp[5], kp[7] = (20, 20), (80, 80)  # left shoulder -> left elbow is a limb
    scores = np.zeros(17)
    scores[[5, 7]] = 0.9
    out = draw_pose(img, kp, scores, color=(255, 0, 0))
    assert img.sum() == 0  # not drawn in place
    assert tuple(out[50, 50]) == (255, 0, 0)  # on the limb
    scores[7] = 0.1
    out = draw_pose(img, kp, scores, color=(255, 0, 0))
    assert out[50, 50].sum() == 0  # limb to an unconfident joint not drawn
    assert out[20, 20].sum() > 0  # the confident joint is


def test_draw_persons_colours_by_track_and_box_formats() -> None:
    img = np.zeros((120, 160, 3), np.uint8)
    people = [
        {"track_id": 1, "box": [10, 10, 40, 80]},  # xywh
        Track(2, np.array([90.0, 10, 140, 90]), 0.9),
    ]
    out = draw_persons(img, people[:1], show_ids=False)
    assert tuple(out[50, 10]) == track_color(1)  # left edge of the box
    out = draw_persons(img, people[1:], box_format="xyxy", show_ids=False)
    assert tuple(out[50, 140]) == track_color(2)
    labelled = draw_persons(img, people[:1])
    assert (labelled != out).any()
    assert draw_box(img, [0, 0, 10, 10], label="id 7").sum() > 0


def test_side_by_side_even_size_and_titles() -> None:
    a = np.zeros((61, 81, 3), np.uint8)
    b = np.zeros((122, 100, 3), np.uint8)
    out = side_by_side([a, b], ["temporal", "single-frame"], gap=3)
    assert out.shape[0] % 2 == 0 and out.shape[1] % 2 == 0
    assert out.shape[0] == 62 and out.shape[1] == 81 + 3 + 50  # b resized to height 61
    assert out[:15, :60].any()  # a title was drawn
    with pytest.raises(ValueError):
        side_by_side([])


@pytest.mark.skipif(not ssdlite_available(), reason=NO_SSDLITE)
def test_real_clip_detect_track_draw_write(shared_data: Path, tmp_path: Path) -> None:
    from semapose.inference.detectors import build_detector

    path = shared_data / "videos" / "two_people_72f.mp4"
    if not path.exists():
        pytest.skip(f"{path} missing")
    det = build_detector("ssdlite", tiles=0, score_threshold=0.5)
    tracker = Tracker(min_score=0.5)
    out = tmp_path / "overlay.mp4"
    ids: list[set[int]] = []
    with VideoWriter(out, fps=FrameSource(path).fps) as writer:
        for frame in FrameSource(path).frames():
            if frame.index >= 6:
                break
            small = frame.image[::2, ::2]  # 960x540 keeps the test fast
            tracks = tracker.update(frame.index, det.detect(small))
            ids.append({t.track_id for t in tracks})
            writer.write(draw_persons(small, tracks, box_format="xyxy"))
    assert FrameSource(out).num_frames == 6 and FrameSource(out).size == (960, 540)
    assert all(ids) and len(set.union(*ids)) <= 4  # ids are reused across frames
