"""semapose: video human pose estimation that stays accurate on degraded frames.

Implements MLSME (multi-level semantic motion encoder, trained by masked context
and pose reconstruction) and SMML (spatial-motion mutual learning) after Feng &
Chen, arXiv 2502.10616. Heavy modules are imported lazily so that
``import semapose`` and ``semapose --help`` stay fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# OpenMP threads sleep instead of spinning while they wait (unless OMP_WAIT_POLICY is set):
# effective when semapose is imported before torch (semapose.threads, docs/predict.md).
from semapose.threads import prefer_passive_wait as _prefer_passive_wait  # noqa: E402

_prefer_passive_wait()

__all__ = ["PoseEstimator", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "PoseEstimator":
        from semapose.inference.api import PoseEstimator

        return PoseEstimator
    raise AttributeError(f"module 'semapose' has no attribute {name!r}")
