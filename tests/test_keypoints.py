from __future__ import annotations

import numpy as np

from semapose import keypoints as K


def test_posetrack_slots_put_head_in_eye_slots() -> None:
    assert len(K.POSETRACK_KEYPOINTS) == 17
    assert K.POSETRACK_KEYPOINTS[1:3] == ("head_bottom", "head_top")
    assert K.COCO_KEYPOINTS[1:3] == ("left_eye", "right_eye")
    assert K.POSETRACK_KEYPOINTS[5:] == K.COCO_KEYPOINTS[5:]


def test_posetrack15_mapping_matches_names() -> None:
    assert len(K.POSETRACK15_KEYPOINTS) == 15
    for i15, slot in enumerate(K.POSETRACK15_FROM_POSETRACK18):
        assert K.POSETRACK_KEYPOINTS[slot] == K.POSETRACK15_KEYPOINTS[i15]
    kp = np.arange(17 * 2, dtype=float).reshape(17, 2)
    out = K.posetrack18_to_posetrack15(kp)
    assert out.shape == (15, 2)
    assert np.array_equal(out[13], kp[0])  # nose
    grouped = sorted(i for g in K.POSETRACK15_GROUPS.values() for i in g)
    assert grouped == list(range(15))


def test_flip_permutation_swaps_left_right_only() -> None:
    perm = K.flip_permutation()
    names = K.POSETRACK_KEYPOINTS
    for i, j in enumerate(perm):
        if "left" in names[i]:
            assert names[j] == names[i].replace("left", "right")
        elif "right" in names[i]:
            assert names[j] == names[i].replace("right", "left")
        else:
            assert i == j  # nose, head_bottom, head_top stay
    assert [perm[p] for p in perm] == list(range(17))


def test_skeletons_and_sigmas_are_consistent() -> None:
    for a, b in K.POSETRACK_SKELETON + K.COCO_SKELETON:
        assert 0 <= a < 17 and 0 <= b < 17 and a != b
    assert K.OKS_SIGMAS.shape == (17,)
    assert np.all(K.OKS_SIGMAS > 0)


def test_coco_to_posetrack_clears_eye_slots() -> None:
    kp = np.ones((2, 17, 3))
    out = K.coco_to_posetrack18(kp)
    assert np.all(out[:, 1:3] == 0) and np.all(out[:, 5:] == 1)
    assert np.all(kp == 1)  # input untouched
