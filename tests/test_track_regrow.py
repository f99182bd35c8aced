"""The tracker keeps a person's size when the detector boxes part of them (issue 22,
basketball_300f frame 120) and looks for a person in doubt at their full size."""

from __future__ import annotations

import numpy as np

from semapose.inference.tracking.association import _not_smaller
from semapose.inference.tracking.config import OutputConfig
from semapose.inference.tracking.following import _regrown


def test_short_detection_inside_the_pose_box_grows_towards_it() -> None:
    pose = np.array([250.0, 90.0, 289.0, 218.0])  # 128 tall
    det = np.array([246.0, 98.0, 282.0, 195.0, 0.7])  # 97 tall, mostly inside
    out = _not_smaller(det, pose, 0.85)
    assert abs((out[3] - out[1]) - 0.85 * 128) < 1e-6
    assert out[1] < det[1] and out[3] > det[3]  # grown towards the pose box, both ways
    assert out[4] == det[4]


def test_detection_kept_when_tall_enough_elsewhere_or_no_pose() -> None:
    pose = np.array([250.0, 90.0, 289.0, 218.0])
    tall = np.array([248.0, 92.0, 288.0, 215.0, 0.9])
    np.testing.assert_array_equal(_not_smaller(tall, pose, 0.85), tall)
    beside = np.array([200.0, 98.0, 240.0, 195.0, 0.9])  # someone else, next to them
    np.testing.assert_array_equal(_not_smaller(beside, pose, 0.85), beside)
    short = np.array([246.0, 98.0, 282.0, 195.0, 0.7])
    np.testing.assert_array_equal(_not_smaller(short, None, 0.85), short)
    np.testing.assert_array_equal(_not_smaller(short, pose, 0.0), short)


def test_in_doubt_box_regrown_about_its_centre_to_the_detection_height() -> None:
    box = np.array([10.0, 20.0, 30.0, 80.0])  # 60 tall
    out = _regrown(box, 75.0)
    np.testing.assert_allclose(out, [7.5, 12.5, 32.5, 87.5])
    np.testing.assert_array_equal(_regrown(box, 50.0), box)  # never shrunk
    np.testing.assert_allclose(_regrown(box, 600.0)[3] - _regrown(box, 600.0)[1], 90.0)


def test_request_limit_defaults() -> None:
    cfg = OutputConfig()
    assert cfg.request_frames >= 1 and 0 < cfg.behind <= 1
