"""The tracker's public names, kept here for callers.

The code is in :mod:`semapose.inference.tracking`, one module per stage; import from
there. This module only keeps older imports of ``semapose.inference.tracker`` working.
"""

from semapose.inference.tracking import (
    DEFAULT_DETECT_EVERY,
    DEFAULT_POSE_THRESHOLD,
    AssociationConfig,
    DetectionSchedule,
    FollowingConfig,
    OutputConfig,
    Track,
    Tracker,
    TrackerConfig,
    keypoint_box,
    pose_oks,
    suppress_contained,
)

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
