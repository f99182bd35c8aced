"""Generated video for tests and measurements: cheap moving-pattern frames, streamed.

Not part of the package (a test tool); the memory recipe in docs/reliability.md
imports it with ``tests`` on ``sys.path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from semapose.io.video import VideoWriter


def synthetic_frames(
    num_frames: int, width: int = 1920, height: int = 1080, seed: int = 0
) -> Iterator[np.ndarray]:
    """Generate ``num_frames`` cheap moving-pattern RGB frames, one at a time.

    For long-stream memory tests and benchmarks (e.g. 10,000 frames of 1080p):
    nothing is kept between frames except one background image.
    """
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 256, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    background = np.repeat(np.repeat(background, 8, axis=0), 8, axis=1)[:height, :width]
    box = max(8, min(width, height) // 6)
    for i in range(num_frames):
        frame = background.copy()
        x = (i * 7) % max(1, width - box)
        y = (i * 3) % max(1, height - box)
        frame[y : y + box, x : x + box] = (255, (i * 5) % 256, 0)
        yield frame


def write_synthetic_video(
    path: str | Path, num_frames: int, width: int = 320, height: int = 240, fps: float = 25.0
) -> Path:
    """Encode :func:`synthetic_frames` to an MP4 at ``path`` (streamed, bounded memory)."""
    with VideoWriter(path, fps=fps, preset="ultrafast") as writer:
        for frame in synthetic_frames(num_frames, width, height):
            writer.write(frame)
    return Path(path)
