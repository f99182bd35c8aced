"""Temporal modules: ours (MLSME + SMML) and the baselines, behind one interface.

Every module maps backbone features of a clip ``(B, T, C, h, w)`` to the key frame's
features ``(B, C, h, w)``; see :mod:`semapose.models.temporal.base`.
"""

from __future__ import annotations

from semapose.models.temporal.base import TemporalModule
from semapose.models.temporal.baselines import DeformableWarping, SingleFrame, TemporalDifference
from semapose.models.temporal.mlsme import MLSME
from semapose.models.temporal.mlsme_smml import MLSMESMML
from semapose.models.temporal.smml import SMML, ConcatFusion

__all__ = [
    "TemporalModule",
    "SingleFrame",
    "TemporalDifference",
    "DeformableWarping",
    "MLSME",
    "MLSMESMML",
    "SMML",
    "ConcatFusion",
]
