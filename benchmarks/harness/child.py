"""One measurement in a fresh process, and the CPU time the children used."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.paths import ROOT


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


def children_cpu_s() -> float:
    """CPU seconds (user + system) of the finished child processes of this invocation."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round(ru.ru_utime + ru.ru_stime, 1)
