"""Wall-clock timing: median of repeated calls, per-stage totals, wall + CPU clocks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def time_calls(
    fn: Callable[[], Any], repeat: int = 5, warmup: int = 1, min_seconds: float = 0.0
) -> dict[str, Any]:
    """Wall seconds of ``fn()``: median, min and every run (after ``warmup`` calls).

    With ``min_seconds`` more runs are added until their total reaches it (at most
    ``4 * repeat``), which steadies very short timings.
    """
    for _ in range(warmup):
        fn()
    runs: list[float] = []
    while len(runs) < repeat or (sum(runs) < min_seconds and len(runs) < 4 * repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return {
        "median_s": statistics.median(runs),
        "min_s": min(runs),
        "runs_s": [round(r, 6) for r in runs],
    }


class Clock:
    """Wall and process-CPU seconds since it was made (``with Clock() as c: ...``; then
    ``c.wall``/``c.cpu`` are frozen at the block's end; outside a block, live)."""

    def __init__(self) -> None:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        self._stopped: tuple[float, float] | None = None

    def __enter__(self) -> Clock:
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        self._stopped = None
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped = (time.perf_counter(), time.process_time())

    @property
    def wall(self) -> float:
        now = self._stopped[0] if self._stopped else time.perf_counter()
        return now - self.start

    @property
    def cpu(self) -> float:
        now = self._stopped[1] if self._stopped else time.process_time()
        return now - self.cpu_start


class StageTimer:
    """Accumulates wall seconds per named stage (``with timer("decode"): ...``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def __call__(self, name: str) -> _Span:
        return _Span(self, name)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + 1


class _Span:
    def __init__(self, timer: StageTimer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timer.add(self.name, time.perf_counter() - self.start)


def time_interleaved(
    calls: dict[str, Callable[[], Any]], repeat: int, warmup: int = 2
) -> dict[str, list[float]]:
    """Wall seconds of every call per round, the calls alternating round by round (so that
    load from other jobs hits all alike); the first ``warmup`` rounds are not kept."""
    runs: dict[str, list[float]] = {k: [] for k in calls}
    for r in range(repeat + warmup):
        for name, fn in calls.items():
            start = time.perf_counter()
            fn()
            if r >= warmup:
                runs[name].append(time.perf_counter() - start)
    return runs
