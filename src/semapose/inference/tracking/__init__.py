"""The online person tracker as stages, in the spirit of MediaPipe's graph.

One frame flows through:

1. :mod:`.schedule` -- the detection schedule: whether the detector runs on the frame;
2. :mod:`.association` -- the detections to the people held (IoU + Hungarian), new
   tracks, re-identification of lost people;
3. :mod:`.following` -- boxes from poses for the people no detection matched (the
   next crop from this frame's keypoints, as MediaPipe does);
4. :mod:`.output` -- who is shown in the frame (pose-present score, OKS duplicates,
   occlusion).

:class:`Tracker` (:mod:`.tracker`) drives stages 2-4 over the shared
:class:`~.state.TrackBook`; :class:`TrackerConfig` (:mod:`.config`) holds their
settings, one group per stage; :mod:`.geometry` the box and pose arithmetic.
"""

from semapose.inference.tracking.config import (
    DEFAULT_POSE_THRESHOLD,
    AssociationConfig,
    FollowingConfig,
    OutputConfig,
    TrackerConfig,
)
from semapose.inference.tracking.geometry import keypoint_box, pose_oks, suppress_contained
from semapose.inference.tracking.schedule import DEFAULT_DETECT_EVERY, DetectionSchedule
from semapose.inference.tracking.state import Track
from semapose.inference.tracking.tracker import Tracker

__all__ = [
    "DEFAULT_DETECT_EVERY",
    "DEFAULT_POSE_THRESHOLD",
    "AssociationConfig",
    "DetectionSchedule",
    "FollowingConfig",
    "OutputConfig",
    "Track",
    "Tracker",
    "TrackerConfig",
    "keypoint_box",
    "pose_oks",
    "suppress_contained",
]
