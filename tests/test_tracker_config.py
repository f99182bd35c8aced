"""The tracker's typed settings: flat keyword names land in their stage's group."""

from __future__ import annotations

import numpy as np
import pytest

from semapose.inference.tracking import (
    AssociationConfig,
    OutputConfig,
    Tracker,
    TrackerConfig,
)


def test_flat_options_land_in_their_group() -> None:
    tr = Tracker(min_hits=1, presence_threshold=0.6, max_pose_fill=3, trust_boxes=True)
    cfg = tr.config
    assert cfg.association.min_hits == 1
    assert cfg.output.presence_threshold == 0.6
    assert cfg.following.max_pose_fill == 3
    assert cfg.trust_boxes
    # the other settings keep their defaults; flat names read back
    assert cfg.association.iou_threshold == AssociationConfig().iou_threshold
    assert tr.min_hits == 1 and tr.presence_threshold == 0.6 and tr.trust_boxes


def test_config_and_options_combine() -> None:
    base = TrackerConfig(output=OutputConfig(patience=0))
    tr = Tracker(base, max_occluded=5)
    assert tr.config.output.patience == 0 and tr.config.output.max_occluded == 5
    assert base.output.max_occluded == 30  # the given config is not changed


def test_unknown_option_is_refused() -> None:
    with pytest.raises(TypeError, match="min_hit"):
        Tracker(min_hit=1)
    with pytest.raises(AttributeError):
        _ = Tracker().no_such_setting


def test_config_object_tracks_like_keywords() -> None:
    dets = [np.array([[10.0 + 3 * i, 20, 60 + 3 * i, 140, 0.9]]) for i in range(6)]
    a = Tracker(min_hits=1, motion=False)
    b = Tracker(TrackerConfig(association=AssociationConfig(min_hits=1, motion=False)))
    for i, d in enumerate(dets):
        ta, tb = a.update(i, d), b.update(i, d)
        assert [(t.track_id, t.box.tolist(), t.source) for t in ta] == [
            (t.track_id, t.box.tolist(), t.source) for t in tb
        ]
