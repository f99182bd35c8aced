"""``semapose report``: one self-contained HTML page per run (see :mod:`semapose.report.page`)."""

from __future__ import annotations

__all__: list[str] = []
