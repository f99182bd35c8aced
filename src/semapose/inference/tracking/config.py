"""The tracker's settings, one group per stage (see :mod:`semapose.inference.tracking`).

:class:`TrackerConfig` holds an :class:`AssociationConfig`, a :class:`FollowingConfig`
and an :class:`OutputConfig`; :meth:`TrackerConfig.with_options` takes the flat
keyword names of :class:`~semapose.inference.tracking.tracker.Tracker` (e.g.
``Tracker(presence_threshold=0.6)``) and puts each into its group.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

#: a followed person is output while their pose-present score is at least this
#: (``predict --pose-threshold``; MediaPipe's own presence threshold)
DEFAULT_POSE_THRESHOLD = 0.5


@dataclass(frozen=True)
class AssociationConfig:
    """Detections to tracks: filtering, IoU + Hungarian matching, births, re-identification.

    ``min_score`` detections below it are ignored; ``nms_iou`` duplicate threshold
    between boxes; ``contain_ratio`` share of a detection's area inside another
    (higher-scored or tracked) box above which it starts no track (a half-body box
    on someone already boxed); ``iou_threshold`` minimum similarity for a match;
    ``pose_weight`` share of the (late) pose-box IoU in the similarity; ``motion``
    constant-velocity prediction; ``max_age`` frames a track survives unseen;
    ``new_track_score`` score to start a detection-tracked track at once;
    ``min_hits`` frames a lower-scoring new track needs before it gets an id;
    ``reid_frames`` frames a lost track keeps its id for re-identification, which
    takes a detection whose centre lies within ``reid_radius`` of the expected box's
    height (growing with the gap) and whose height is within a factor ``reid_size``.
    Pose-tracked regime only: ``detection_margin`` share of a detector box's width and
    height added on each side, so that a detector's tight person box frames the person
    as the pose boxes do (keypoints + 15 % per side; BlazePose's crops then hold the
    person at about 1.5x, as MediaPipe's own crops do); ``cover_ratio`` share of a
    person's expected box inside a detection left over that makes it theirs;
    ``keep_pose_size``: a detection matched to a person followed by a confident pose,
    mostly inside the pose's box but shorter than this share of its height, is grown
    towards their union to this share (0: never).
    """

    min_score: float = 0.0
    nms_iou: float = 0.5
    contain_ratio: float = 0.8
    iou_threshold: float = 0.3
    pose_weight: float = 0.5
    motion: bool = True
    max_age: int = 10
    new_track_score: float = 0.5
    min_hits: int = 2
    reid_frames: int = 30
    reid_radius: float = 0.5
    reid_size: float = 1.5
    detection_margin: float = 0.1
    cover_ratio: float = 0.7
    keep_pose_size: float = 0.85


@dataclass(frozen=True)
class FollowingConfig:
    """Boxes from poses: the next crop from this frame's keypoints (pose-tracked regime),
    boxes from the late keypoints for missed people (detection-tracked regime).

    ``keypoint_min_score`` joints below it do not count in a keypoint box; ``max_shrink``
    share by which a followed crop's width or height may shrink from one frame to the next
    (a pose missing its far joints would cut the person off);
    ``max_keypoint_age`` frames after which keypoints are too old to use;
    ``redetect_below`` a pose score under it asks for a detection on the next frame
    (and the pose does not place the next crop); ``fill_from_pose`` boxes from the
    late keypoints for missed people, for at most ``max_pose_fill`` frames, if their
    confident joints average ``pose_fill_min_score``.
    """

    keypoint_min_score: float = 0.3
    max_shrink: float = 0.1
    max_keypoint_age: int = 5
    redetect_below: float = 0.8
    fill_from_pose: bool = True
    max_pose_fill: int = 8
    pose_fill_min_score: float = 0.35


@dataclass(frozen=True)
class OutputConfig:
    """Who is output in a frame (pose-tracked regime).

    ``presence_threshold`` pose-present score a person needs to be output (and to
    stay tracked); ``duplicate_oks`` OKS above which two tracks show the same
    person; ``confirm_frames`` frames with a confident pose a new person needs
    before being shown; ``patience`` frames a person in doubt stays on screen
    anyway; ``max_occluded`` frames a person in doubt stays on screen (without a
    pose of their own) while the detector still boxes them or someone hides them;
    ``request_frames`` frames after their last confident pose during which a person in
    doubt asks for the detector (then the periodic detection looks for them), unless
    ``behind`` of their box lies inside the box of someone shown (the detector would box
    the one in front only).
    """

    presence_threshold: float = DEFAULT_POSE_THRESHOLD
    duplicate_oks: float = 0.5
    confirm_frames: int = 2
    patience: int = 2
    max_occluded: int = 30
    behind: float = 0.8
    request_frames: int = 4


@dataclass(frozen=True)
class TrackerConfig:
    """All the tracker's settings, grouped by stage. ``trust_boxes``: boxes come from a
    file and are used exactly as given (no suppression, no score filter, no pose boxes)."""

    association: AssociationConfig = field(default_factory=AssociationConfig)
    following: FollowingConfig = field(default_factory=FollowingConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    trust_boxes: bool = False

    def with_options(self, **options: Any) -> TrackerConfig:
        """A copy with the given flat settings (``min_hits=1``, ``trust_boxes=True``, ...)
        changed in their groups; an unknown name raises ``TypeError``."""
        groups: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for name, value in options.items():
            group = _GROUP_OF.get(name)
            if group is None:
                raise TypeError(f"unknown tracker option {name!r}")
            if group == "":
                top[name] = value
            else:
                groups.setdefault(group, {})[name] = value
        changed = {g: replace(getattr(self, g), **v) for g, v in groups.items()}
        return replace(self, **changed, **top)

    def option(self, name: str) -> Any:
        """A setting by its flat name (``config.option("min_hits")``); ``AttributeError``
        for an unknown name."""
        group = _GROUP_OF.get(name)
        if group is None:
            raise AttributeError(name)
        return getattr(self, name) if group == "" else getattr(getattr(self, group), name)


#: flat option name -> its group's field name in TrackerConfig ("" for top-level fields)
_GROUP_OF: dict[str, str] = {
    **{f.name: "association" for f in fields(AssociationConfig)},
    **{f.name: "following" for f in fields(FollowingConfig)},
    **{f.name: "output" for f in fields(OutputConfig)},
    "trust_boxes": "",
}
