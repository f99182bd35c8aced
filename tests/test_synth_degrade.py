"""Degradations change the pixels they claim to, and only in the frames they label."""

from __future__ import annotations

import numpy as np
import pytest

from semapose.data.synthetic import DEGRADATIONS, iter_video, parse_degrade
from semapose.errors import InputError

SIZE = (128, 128)


def _pair(typ: str, seed: int = 4, severity: int = 3):  # type: ignore[no-untyped-def]
    kw = {"size": SIZE, "people": (2, 3), "rate": 0.5}
    clean = list(iter_video(seed, "train", 0, 30, degrade="none", **kw))  # type: ignore[arg-type]
    bad = list(iter_video(seed, "train", 0, 30, degrade=f"{typ}:{severity}", **kw))  # type: ignore[arg-type]
    return clean, bad


@pytest.mark.parametrize("typ", DEGRADATIONS)
def test_only_labelled_frames_change(typ: str) -> None:
    clean, bad = _pair(typ)
    assert all(f.degradations == [] for f in clean)
    labelled = [f.t for f in bad if f.degradations]
    assert labelled, f"no {typ} event in 30 frames"
    changed = 0
    for c, d in zip(clean, bad, strict=True):
        if not d.degradations:
            assert np.array_equal(c.image, d.image), f"unlabelled frame {d.t} changed"
            continue
        (item,) = d.degradations
        assert item["type"] == typ and item["severity"] == 3
        if typ in ("motion_blur", "occluder"):
            assert item["track_ids"] and set(item["track_ids"]) <= {
                p["track_id"] for p in c.people
            } | set(range(10))
        else:
            assert item["track_ids"] is None
        changed += int(not np.array_equal(c.image, d.image))
    assert changed >= max(1, len(labelled) - 1)
    # people, tracks and poses are the same scene with and without degradation
    for c, d in zip(clean, bad, strict=True):
        assert [p["track_id"] for p in c.people] == [
            p["track_id"] for p in d.people
        ] or typ == "occluder"


def _box_mask(people: list[dict], ids: list[int], pad: float, shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, bool)
    for p in people:
        if p["track_id"] in ids:
            x, y, w, h = p["bbox"]
            px, py = pad * w + 2, pad * h + 2
            m[
                max(0, int(y - py)) : int(y + h + py) + 1, max(0, int(x - px)) : int(x + w + px) + 1
            ] = True
    return m


@pytest.mark.parametrize("typ", ["motion_blur", "occluder"])
def test_person_level_degradations_stay_near_their_people(typ: str) -> None:
    clean, bad = _pair(typ, seed=6, severity=4)
    checked = 0
    for c, d in zip(clean, bad, strict=True):
        if not d.degradations:
            continue
        ids = d.degradations[0]["track_ids"]
        if not all(i in {p["track_id"] for p in c.people} for i in ids):
            continue
        diff = np.abs(c.image.astype(int) - d.image.astype(int)).max(axis=2) > 0
        allowed = _box_mask(c.people, ids, 0.8 if typ == "occluder" else 0.35, diff.shape)
        assert diff.any()
        assert not (diff & ~allowed).any(), f"{typ} changed pixels away from tracks {ids}"
        checked += 1
    assert checked >= 1


def test_occluder_hides_joints() -> None:
    clean, bad = _pair("occluder", seed=1, severity=5)
    hidden_clean = hidden_bad = 0
    for c, d in zip(clean, bad, strict=True):
        if not d.degradations:
            assert [p["keypoints"] for p in c.people] == [p["keypoints"] for p in d.people]
            continue
        ids = d.degradations[0]["track_ids"]
        hidden_clean += sum(p["keypoints"][2::3].count(1) for p in c.people if p["track_id"] in ids)
        hidden_bad += sum(p["keypoints"][2::3].count(1) for p in d.people if p["track_id"] in ids)
    assert hidden_bad > hidden_clean


def test_frame_drop_repeats_the_previous_frame_but_keeps_true_pose() -> None:
    clean, bad = _pair("frame_drop", severity=2)
    for k, d in enumerate(bad):
        if d.degradations:
            assert k > 0 and np.array_equal(d.image, bad[k - 1].image)
            assert d.people == clean[k].people  # labels are the true pose at this time


def test_severity_increases_damage() -> None:
    errs = []
    for s in (1, 3, 5):
        clean, bad = _pair("defocus", severity=s)
        diffs = [
            np.abs(c.image.astype(float) - d.image).mean()
            for c, d in zip(clean, bad, strict=True)
            if d.degradations
        ]
        errs.append(float(np.mean(diffs)))
    assert errs[0] < errs[1] < errs[2]


def test_degradation_spans_leave_clean_neighbours() -> None:
    frames = list(iter_video(9, "train", 0, 60, SIZE, (1, 3), None, rate=0.35))
    flags = [bool(f.degradations) for f in frames]
    assert 0.1 < np.mean(flags) < 0.6
    # every run of degraded frames is short and events are separated by clean frames
    run = longest = 0
    for f in flags:
        run = run + 1 if f else 0
        longest = max(longest, run)
    assert longest <= 6


def test_parse_degrade() -> None:
    assert parse_degrade("none") == [] and parse_degrade([]) == []
    assert len(parse_degrade(None)) == len(DEGRADATIONS) == len(parse_degrade("all"))
    assert parse_degrade("noise:2, defocus") == [("noise", 2), ("defocus", None)]
    for bad in ("noise:0", "noise:6", "noise:x", "fog"):
        with pytest.raises(InputError):
            parse_degrade(bad)


def test_person_labels_name_people_in_view() -> None:
    frames = list(iter_video(3, "train", 0, 20, SIZE, (2, 3), "motion_blur:2", rate=0.5))
    seen = {p["track_id"] for f in frames for p in f.people}
    n = 0
    for f in frames:
        for item in f.degradations:
            ids = list(item["track_ids"])  # type: ignore[call-overload]
            assert ids == sorted(ids) and set(ids) <= seen
            n += 1
    assert n > 0
