"""Contract cases: each must end as the contract says -- a SemaposeError (one line) or
the documented right result (the case asserts it) -- within a time bound; never another
exception or a hang (``benchmarks/reliability_attack.py``)."""

from __future__ import annotations

import resource
import signal
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

Case = tuple[str, Callable[[Path], Any], str]


class Cases:
    """An ordered list of cases, filled by the ``@cases.case(name, expect)`` decorator."""

    def __init__(self) -> None:
        self.items: list[Case] = []

    def case(self, name: str, expect: str = "error") -> Callable[[Callable[[Path], Any]], Any]:
        """``expect``: "error" (a SemaposeError) or "ok" (the function asserts the result)."""

        def add(fn: Callable[[Path], Any]) -> Callable[[Path], Any]:
            self.items.append((name, fn, expect))
            return fn

        return add


def _alarm(signum: int, frame: Any) -> None:
    raise TimeoutError("case ran past 60 s")


def run_cases(cases: list[Case], limit_s: int = 60) -> dict[str, Any]:
    """Each case in a fresh temporary folder, stopped by SIGALRM after ``limit_s``: its
    outcome ("ok", "error", "crash"), whether that is right, seconds and peak growth."""
    from semapose.errors import SemaposeError

    signal.signal(signal.SIGALRM, _alarm)
    rows = []
    for name, fn, expect in cases:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            outcome, detail = "", ""
            signal.alarm(limit_s)
            try:
                fn(Path(tmp))
                outcome = "ok"
            except SemaposeError as exc:
                outcome, detail = "error", str(exc)
            except BaseException as exc:  # noqa: BLE001 - what we are looking for
                outcome = "crash"
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            finally:
                signal.alarm(0)
            seconds = time.perf_counter() - t0
            grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
            right = outcome == expect and "\n" not in detail and seconds < limit_s
            rows.append({"case": name, "expected": expect, "outcome": outcome, "right": right,
                         "seconds": round(seconds, 3), "peak_growth_mib": round(grew, 1),
                         "detail": detail[:200]})  # fmt: skip
            print(f"{'RIGHT' if right else 'WRONG'}  {name}: {outcome} {detail[:120]}")
    return {"cases": len(rows), "right": sum(r["right"] for r in rows), "rows": rows}
