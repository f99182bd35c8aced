"""Procedural multi-person video with exact pose ground truth and labelled degradations.

``generate_dataset`` writes a PoseTrack18-format folder (``semapose synth`` on the
command line); ``iter_video`` renders one video in memory. See docs/synthetic.md.
"""

from __future__ import annotations

from semapose.data.synthetic.degrade import DEGRADATIONS, parse_degrade
from semapose.data.synthetic.generate import (
    SPLIT_CODES,
    FrameResult,
    generate_dataset,
    iter_video,
    sequence_name,
    video_id,
)

__all__ = [
    "DEGRADATIONS",
    "SPLIT_CODES",
    "FrameResult",
    "generate_dataset",
    "iter_video",
    "parse_degrade",
    "sequence_name",
    "video_id",
]
