"""Stage 1, the detection schedule: when the person detector runs.

A pure function of the frame index and the tracker's state (``last_detection_frame``,
``pose_tracked``, ``needs_detection``), so a resumed run that replays the tracker gets
the same answers. :class:`DetectionSchedule` is the project's schedule; the stream asks
any object of the :class:`semapose.inference.stream.StreamSchedule` protocol.
"""

from __future__ import annotations

from typing import Any

#: default period of the detector for models that track by pose (``--detect-every``): at 25-30
#: frames/s a person who walks in is found within a third of a second, and the detector (the
#: most expensive stage, ~5x a pose crop) costs a tenth of its every-frame price
DEFAULT_DETECT_EVERY = 10


class DetectionSchedule:
    """When to run the person detector: every ``every`` frames and whenever the tracker asks.

    ``should_detect`` is a pure function of the frame index and the tracker's
    state (a resumed run replays the tracker and gets the same answers). The
    tracker asks for a detection before its first one, on every frame while the
    model gives no pose-present score (heatmap models: people are found and
    followed by the detector alone), after it lost a person or a pose score fell
    below ``Tracker.redetect_below``, and for box files (always). So a new
    person is found within ``every`` frames of appearing.
    """

    def __init__(self, every: int = 1, min_gap: int | None = None) -> None:
        if int(every) < 1:
            raise ValueError(f"detect every must be a positive integer, got {every}")
        self.every = int(every)
        #: frames a tracker's request waits after the last detection (default 3; measured
        #: with blazepose_temporal: basketball_300f 4 ids instead of 5 and 62 detector calls
        #: instead of 176, two_people_72f the same 2 ids in 72/72 frames with 15 calls
        #: instead of 35; benchmarks/results/tracking_real.md)
        self.min_gap = 3 if min_gap is None else max(1, int(min_gap))

    def should_detect(self, frame: int, tracker: Any) -> bool:
        return self.reason(frame, tracker) is not None

    def reason(self, frame: int, tracker: Any) -> str | None:
        """Why the detector runs on ``frame``: "full" (first or periodic detection, or
        people followed by the detector alone), "request" (a pose-tracked person is in
        doubt: re-anchoring, which a detector may answer near the followed people only),
        or None (it does not run)."""
        last = int(getattr(tracker, "last_detection_frame", -1))
        # periodic by the frame number, not by the last detection: requests (answered near
        # the people already held) must not put off the full look that finds new people
        if last < 0 or frame % self.every == 0 or frame - last >= self.every:
            return "full"
        if not getattr(tracker, "pose_tracked", False):
            return "full"  # people are followed by the detector alone
        # ``min_gap`` > 1 makes a request wait (with many people someone is always in doubt)
        if bool(tracker.needs_detection) and frame - last >= self.min_gap:
            return "request"
        return None
