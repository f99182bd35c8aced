"""Where the numbers were measured, the command that measured them, torch's threads."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any


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


def set_threads(n: int) -> None:
    """Torch intra-op threads (on a busy 2-core machine 1 thread is often fastest)."""
    import torch

    if n > 0:
        torch.set_num_threads(n)
