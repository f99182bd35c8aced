"""CPU seconds of ``semapose predict``'s own road on a clip, for comparing two trees.

Usage (alternate the trees on the same machine; wall-clock frames/s mean little on a
shared machine, CPU seconds of one thread much more)::

    PYTHONPATH=/path/to/main/src python benchmarks/predict_cpu.py --label main
    PYTHONPATH=src python benchmarks/predict_cpu.py --label branch

Runs :meth:`semapose.inference.predictor.Predictor.run_one` (default model, default
detector, no overlay video, one torch thread) ``--repeat`` times on the clip and records
the process CPU seconds and the wall seconds of each whole call (the detector is loaded
before; ``run_one``'s warm-up is inside). Appends one row per run of this script to
``benchmarks/results/predict_cpu.{json,md}`` (rows of other labels are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.machine import machine_info, machine_line
from harness.paths import RESULTS
from harness.report import md_table, write_results


def measure(clip: Path, repeat: int) -> list[tuple[float, float]]:
    """(CPU seconds, wall seconds) of each of ``repeat`` predict runs on ``clip``."""
    import torch

    from semapose.inference.detectors import build_detector
    from semapose.inference.predictor import Predictor

    torch.set_num_threads(1)
    predictor = Predictor.create(None, "cpu")
    out = []
    for _ in range(repeat):
        det = build_detector("ssdlite")
        det.load()  # type: ignore[attr-defined]
        with tempfile.TemporaryDirectory() as tmp:
            cpu, wall = time.process_time(), time.perf_counter()
            predictor.run_one(clip, Path(tmp), detector_obj=det, write_video=False, progress=False)
            out.append((time.process_time() - cpu, time.perf_counter() - wall))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    data = Path(os.environ.get("SEMAPOSE_SHARED_DATA", "../shared/data"))
    ap.add_argument("--clip", type=Path, default=data / "videos" / "two_people_72f.mp4")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--label", required=True, help="which tree this is (main, branch, ...)")
    args = ap.parse_args(argv)
    runs = measure(args.clip, args.repeat)
    info = machine_info(threads=1)
    path = RESULTS / "predict_cpu.json"
    rows: list[dict[str, Any]] = json.loads(path.read_text())["rows"] if path.is_file() else []
    rows.append({
        "label": args.label,
        "clip": args.clip.name,
        "cpu_s": [round(c, 2) for c, _ in runs],
        "wall_s": [round(w, 2) for _, w in runs],
        "load_average_1min": info.get("load_average_1min"),
    })  # fmt: skip
    table = [[r["label"], r["clip"], ", ".join(map(str, r["cpu_s"])),
              ", ".join(map(str, r["wall_s"])), r["load_average_1min"]] for r in rows]  # fmt: skip
    md = "\n".join([
        "# CPU seconds of predict's road (one thread, no overlay)",
        "",
        md_table(["tree", "clip", "CPU s per run", "wall s per run", "load (1 min)"], table),
        "",
        "Each row: one run of `benchmarks/predict_cpu.py --label TREE` with that tree on "
        "PYTHONPATH; rows alternate the trees on the same machine.",
        "",
        f"Machine: {machine_line(info)}",
    ])  # fmt: skip
    write_results("predict_cpu", {"rows": rows, "machine": info}, md)
    print(json.dumps(rows[-1]))


if __name__ == "__main__":
    main()
