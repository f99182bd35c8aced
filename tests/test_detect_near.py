"""Re-anchoring detections: the schedule's reasons and SSDLite's ``detect_near`` windows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from semapose.inference.detectors.ssdlite import SSDLitePersonDetector, tile_windows
from semapose.inference.stream import PoseStream
from semapose.inference.tracking import DetectionSchedule


def _windows_of(boxes: list[list[float]]) -> list[tuple[int, int, int, int]]:
    det = SSDLitePersonDetector(tiles=3, small=0.25)
    seen: list[Any] = []

    def record(frame: np.ndarray, windows: list[Any]) -> np.ndarray:
        seen.append(windows)
        return np.zeros((0, 5))

    det._detect = record  # type: ignore[method-assign,assignment]
    det.detect_near(
        np.zeros((1080, 1920, 3), np.uint8), np.array(boxes, dtype=float).reshape(-1, 4)
    )
    return seen[0]  # type: ignore[no-any-return]


def test_detect_near_full_frame_only_for_large_people() -> None:
    assert _windows_of([[600, 250, 850, 900], [880, 260, 1120, 890]]) == [(0, 0, 1920, 1080)]


def test_detect_near_adds_the_tile_of_a_small_person_once() -> None:
    windows = tile_windows(1920, 1080, 3)
    got = _windows_of([[1700, 500, 1740, 600], [1750, 520, 1790, 610], [100, 100, 400, 1000]])
    assert got == [windows[0], windows[3]]  # the right-most tile holds both small people


def test_schedule_reasons() -> None:
    sched = DetectionSchedule(every=10)
    first = SimpleNamespace(last_detection_frame=-1, pose_tracked=True, needs_detection=False)
    assert sched.reason(0, first) == "full"
    calm = SimpleNamespace(last_detection_frame=0, pose_tracked=True, needs_detection=False)
    assert sched.reason(5, calm) is None and sched.reason(10, calm) == "full"
    doubt = SimpleNamespace(last_detection_frame=0, pose_tracked=True, needs_detection=True)
    assert sched.reason(5, doubt) == "request"
    assert sched.should_detect(5, doubt) and not sched.should_detect(5, calm)
    boxes_only = SimpleNamespace(last_detection_frame=0, pose_tracked=False, needs_detection=True)
    assert sched.reason(5, boxes_only) == "full"


def test_stream_answers_requests_near_the_followed_people() -> None:
    calls: list[str] = []

    class Det:
        def detect(self, frame: Any, index: Any = None) -> np.ndarray:
            calls.append("full")
            return np.zeros((0, 5))

        def detect_near(self, frame: Any, boxes: np.ndarray, index: Any = None) -> np.ndarray:
            calls.append(f"near {boxes.tolist()}")
            return np.zeros((0, 5))

    tracker = SimpleNamespace(
        last_detection_frame=0,
        pose_tracked=True,
        needs_detection=True,
        followed_boxes=np.array([[1.0, 2.0, 3.0, 4.0]]),
    )
    stream = PoseStream(None, Det(), tracker, DetectionSchedule(every=10))  # type: ignore[arg-type]
    image = np.zeros((8, 8, 3), np.uint8)
    assert stream._detect(image, 5, "request") is not None
    assert stream._detect(image, 10, "full") is not None
    tracker.followed_boxes = np.zeros((0, 4))  # nobody held: the full detector
    stream._detect(image, 11, "request")
    assert calls == ["near [[1.0, 2.0, 3.0, 4.0]]", "full", "full"]
