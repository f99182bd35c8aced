"""Training experiments: one run per (variant, seed) in its own folder, made by the
script's worker in a child process, reused once its ``result.json`` is written, and
aggregated as mean ± sd over seeds (``temporal_real``, ``temporal_neighbours``,
``accuracy``)."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from harness.paths import ROOT

T = TypeVar("T")
R = TypeVar("R")


def in_parallel(fn: Callable[[T], R], items: Iterable[T], jobs: int) -> list[R]:
    """``[fn(x) for x in items]``, ``jobs`` at a time (each call usually waits on a child)."""
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return list(pool.map(fn, items))


def run_worker(script: Path | str, args: list[str], log: Path | None = None) -> Any:
    """``python script args`` from the repository root (this process's environment); its
    output captured (``.stdout``/``.stderr`` of the result) or appended to ``log``."""
    cmd = [sys.executable, str(script), *args]
    if log is None:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:
        return subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)


def collect_runs(folder: Path, variants: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Every finished run ``folder/VARIANT_sSEED/result.json`` of ``variants``, by variant
    (in the order given; a variant without a finished run is left out)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for v in variants:
        for path in sorted(folder.glob(f"{v}_s*/result.json")):
            r = json.loads(path.read_text())
            if r["variant"] == v:
                runs.setdefault(v, []).append(r)
    return runs


def mean_sd(
    values: Iterable[Any], drop_nan: bool = False, exact: bool = False
) -> tuple[float, float, list[float]]:
    """Mean, sample sd (0 for one value) and the values counted: None is skipped (NaN too
    with ``drop_nan``); ``exact``: ``statistics.mean`` rather than ``fmean``. No values:
    NaN, NaN, []."""
    vals = [float(v) for v in values if v is not None and (not drop_nan or v == v)]
    if not vals:
        return float("nan"), float("nan"), []
    mean = statistics.mean(vals) if exact else statistics.fmean(vals)
    return mean, (statistics.stdev(vals) if len(vals) > 1 else 0.0), vals


def fmt_mean_sd(mean: float, sd: float, n: int | None = None) -> str:
    """``mean ± sd`` to one decimal; ``mean`` alone when ``n`` says one seed; NaN: n/a."""
    if mean != mean:
        return "n/a"
    return f"{mean:.1f} ± {sd:.1f}" if n is None or n > 1 else f"{mean:.1f}"


def get_path(d: Any, path: str) -> Any:
    """``d["a"]["b"]`` for ``"a.b"``; None where a key is missing."""
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d
