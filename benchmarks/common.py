"""Shared helpers of the benchmark scripts: timing, memory, machine info, result files.

Benchmarks print and save their figures; they are not tests. Every result file is
written atomically (``semapose.io.atomic``) under ``benchmarks/results/``:
``NAME.json`` (all numbers, the command and the machine) and ``NAME.md`` (the
tables that docs/benchmarks.md quotes).
"""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "runs" / "bench_cache"


def load_average() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - not on Linux/macOS
        return float("nan")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(threads: int | None = None) -> dict[str, Any]:
    """Where the numbers were measured (also says that there is no GPU, if so)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "load_average_1min": load_average(),
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = threads if threads is not None else torch.get_num_threads()
        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    except ImportError:  # pragma: no cover
        info["gpu"] = "unknown"
    return info


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['cpu']}, {info['cpus']} CPUs, GPU: {info.get('gpu', 'none')}, "
        f"torch {info.get('torch', '?')} ({info.get('torch_threads', '?')} threads), "
        f"Python {info['python']}, 1-min load average {info['load_average_1min']}"
    )


def command_line() -> str:
    args = " ".join(sys.argv[1:])
    return f"python benchmarks/{Path(sys.argv[0]).name} {args}".strip()


# ----------------------------------------------------------------------------- timing


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


# ----------------------------------------------------------------------------- memory


def rss_mb() -> float:
    """Current resident set size of this process in MiB (Linux /proc; else peak)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (``ru_maxrss``; KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def run_child(script: Path, args: Sequence[str], timeout: float | None = None) -> dict[str, Any]:
    """Run ``python script args`` in a fresh process; return the JSON of its last stdout line.

    A fresh process per configuration makes ``ru_maxrss`` the peak of that
    configuration alone (torch's allocator never returns memory to a shared
    process, and tracemalloc does not see torch's tensors).
    """
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"{script.name} {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    last = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not last:
        raise RuntimeError(f"{script.name} {' '.join(args)} printed no JSON:\n{proc.stdout}")
    result: dict[str, Any] = json.loads(last[-1])
    return result


# ----------------------------------------------------------------------------- output


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A markdown table; ``align`` is one letter per column (l or r, default l then r)."""
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(str(h) for h in header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        if v != v:
            return "n/a"
        return f"{v:.3g}" if abs(v) < 0.01 and v != 0 else f"{v:.2f}"
    return str(v)


def write_results(name: str, data: dict[str, Any], markdown: str, out: Path = RESULTS) -> None:
    """``out/NAME.json`` and ``out/NAME.md``, both written atomically; prints the markdown."""
    from semapose.io.atomic import atomic_write_json, atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / f"{name}.json", _finite(data), indent=2)
    atomic_write_text(out / f"{name}.md", markdown.rstrip() + "\n")
    print(markdown)


def _finite(obj: Any) -> Any:
    """NaN/inf (e.g. the mean of no values) become null: JSON has no NaN."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def set_threads(n: int) -> None:
    """Torch intra-op threads (on a busy 2-core machine 1 thread is often fastest)."""
    import torch

    if n > 0:
        torch.set_num_threads(n)
