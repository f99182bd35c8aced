"""Square person crops of clean synthetic video with their exact keypoints (for fitting)."""

from __future__ import annotations

import numpy as np

__all__ = ["person_crops"]


def person_crops(
    seed: int, videos: int, frames: int, step: int, enlarge: float, size: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every person of ``videos`` clean synthetic training videos (every ``step``-th of
    ``frames`` frames), cropped square from the box enlarged by ``enlarge``.

    Returns crops (N, size, size, 3) RGB, keypoints in crop pixels (N, 17, 2), visibility
    (N, 17) and head sizes in crop pixels (N,) (poseval's 0.6 x head-box diagonal).
    """
    import cv2

    from semapose.data.synthetic.generate import iter_video
    from semapose.data.transforms import (
        box_to_center_scale,
        crop,
        get_affine_matrix,
        transform_points,
    )

    out = (size, size)
    crops, points, vis, heads = [], [], [], []
    for v in range(videos):
        for frame in iter_video(seed, "train", v, frames, (512, 512), (1, 3), None):
            if frame.t % step:
                continue
            image = cv2.cvtColor(frame.clean, cv2.COLOR_BGR2RGB)
            for person in frame.people:
                kp = np.asarray(person["keypoints"], dtype=np.float64).reshape(17, 3)
                center, scale = box_to_center_scale(np.asarray(person["bbox"]), out, enlarge)
                m = get_affine_matrix(center, scale, 0.0, out)
                crops.append(crop(image, m, out))
                points.append(transform_points(kp[:, :2], m))
                vis.append(kp[:, 2])
                hw = np.asarray(person["bbox_head"], dtype=np.float64)[2:]
                heads.append(0.6 * float(np.hypot(*hw)) * float(np.hypot(*m[0, :2])))
    return np.stack(crops), np.stack(points), np.stack(vis), np.array(heads)
