"""What the weights road costs a user: first-use fetch, first load, later loads.

Usage::

    python benchmarks/weights_load.py [--runs 3]

Each measurement runs in a fresh process (so no import or file cache of this
process helps) with its own ``SEMAPOSE_CACHE``:

* ``fetch``: ``fetch_asset("blazepose_full")`` into an empty cache -- ``pip download``
  of the pinned mediapipe wheel (from wherever pip's configuration points; pip's own
  HTTP cache may serve it), member extraction, SHA-256 check;
* ``first load``: ``load_model("blazepose")`` with the asset cached but not yet
  converted (tflite -> safetensors conversion, written to the cache);
* ``load``: ``load_model("blazepose")`` with everything cached (every later run);
* ``load tiny_synthetic``: the bundled tiny model, for reference.

Times are wall seconds inside the child, after ``import torch`` (median of
``--runs``). Prints a table and saves ``benchmarks/results/weights_load.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from harness.child import run_child
from harness.cli import parser
from harness.machine import command_line, machine_info, machine_line
from harness.report import md_table, write_results

STAGES = ("fetch", "first load", "load", "load tiny_synthetic")


def child(stage: str) -> None:
    import torch  # noqa: F401  (imported before timing: every stage pays it alike)

    from semapose.inference.loading import load_model
    from semapose.weights.assets import fetch_asset

    start = time.perf_counter()
    if stage == "fetch":
        fetch_asset("blazepose_full", progress=False)
    elif stage == "load tiny_synthetic":
        load_model("tiny_synthetic")
    else:
        load_model("blazepose")
    print(json.dumps({"seconds": time.perf_counter() - start}))


def _prepare(stage: str, cache: Path, asset: Path) -> None:
    """Put into ``cache`` what the stage assumes is there already."""
    if stage in ("first load", "load"):
        (cache / "assets").mkdir(parents=True)
        shutil.copy(asset, cache / "assets" / asset.name)
    if stage == "load":  # the conversion is made by one untimed load
        os.environ["SEMAPOSE_CACHE"] = str(cache)
        run_child(Path(__file__), ["--child", "first load"])


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    from semapose.weights.assets import fetch_asset

    asset = fetch_asset("blazepose_full")  # the user cache's copy seeds the load stages
    results: dict[str, list[float]] = {}
    for stage in STAGES:
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="semapose-bench-") as tmp:
                cache = Path(tmp) / "cache"
                _prepare(stage, cache, asset)
                os.environ["SEMAPOSE_CACHE"] = str(cache)
                out = run_child(Path(__file__), ["--child", stage])
                results.setdefault(stage, []).append(float(out["seconds"]))
    info = machine_info()
    rows = [(s, statistics.median(v), min(v), len(v)) for s, v in results.items()]
    md = (
        md_table(["stage", "median s", "min s", "runs"], rows)
        + f"\n\nMeasured on {machine_line(info)} (shared with other work; medians).\n"
        + f"Command: `{command_line()}`\n"
    )
    data = {"command": command_line(), "machine": info, "seconds": results}
    write_results("weights_load", data, md, args.out)


if __name__ == "__main__":
    main()
