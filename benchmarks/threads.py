"""``semapose predict`` with the default thread count against ``--threads 1``, with the
cores to itself and beside a CPU-bound neighbour process.

Usage::

    python benchmarks/threads.py [--clip ../shared/data/videos/basketball_300f.mp4]
        [--rounds 1] [--settle 20] [--variants "default;--threads 1"] [--name threads]

Each run is the CLI in a child process (``semapose predict CLIP --out TMP --no-video
--quiet [--threads N]``), timed wall-clock, its track ids and keypoints read back from
the PoseTrack JSON it wrote. Variants:

* ``default``: no ``--threads`` (the free cores, ``OMP_WAIT_POLICY=PASSIVE``);
* ``--threads 1``;
* ``--threads 2`` (with the passive wait: what the default picks on an idle 2-core
  machine, run here on a busy one);
* ``--threads 2, OpenMP's own wait`` (``OMP_WAIT_POLICY`` emptied: libgomp's default
  spin-then-sleep, i.e. how 2 threads ran before semapose.threads).

Conditions: ``alone`` (no neighbour started; other users' jobs are whatever the load
average says) and ``neighbour`` (one ``while True: pass`` Python process started
``--settle`` seconds before the run, killed after it). Saves
``benchmarks/results/NAME.{json,md}`` (default ``threads``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness.cli import parser as bench_parser
from harness.machine import command_line, machine_info, machine_line
from harness.paths import ROOT, videos_dir
from harness.report import md_table, write_results

VARIANTS: dict[str, tuple[list[str], dict[str, str]]] = {
    "default": ([], {}),
    "--threads 1": (["--threads", "1"], {}),
    "--threads 2": (["--threads", "2"], {}),
    "--threads 2, OpenMP's own wait": (["--threads", "2"], {"OMP_WAIT_POLICY": ""}),
}


def run_predict(clip: Path, options: list[str], env_extra: dict[str, str]) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    env.update(env_extra)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "semapose.cli", "predict", str(clip), "--out", tmp]
        cmd += ["--no-video", "--quiet", *options]
        load = os.getloadavg()[0]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        found = re.search(r"(\d+) CPU thread", done.stdout)
        threads = int(found.group(1)) if found else None
        doc = json.loads(next(Path(tmp, "posetrack").glob("*.json")).read_text())
    poses = {
        (a["image_id"], a["track_id"]): [round(v, 3) for v in a["keypoints"]]
        for a in doc["annotations"]
    }
    return {
        "seconds": round(seconds, 1),
        "threads": threads,
        "load_before": round(load, 2),
        "ids": sorted({a["track_id"] for a in doc["annotations"]}),
        "poses": poses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--clip", type=Path, default=videos_dir() / "basketball_300f.mp4")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--settle", type=float, default=20.0, help="neighbour warm-up, seconds")
    parser.add_argument(
        "--variants", default=";".join(VARIANTS), help=f'separated by ";", of: {list(VARIANTS)}'
    )
    parser.add_argument("--name", default="threads", help="results file name")
    args = parser.parse_args(argv)
    chosen = [v.strip() for v in args.variants.split(";") if v.strip()]
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; known: {list(VARIANTS)}")
    if not args.clip.is_file():
        raise SystemExit(f"{args.clip}: no such clip")
    rows: list[dict[str, Any]] = []
    reference: dict[Any, Any] | None = None
    for r in range(args.rounds):
        for condition in ("alone", "neighbour"):
            neighbour = None
            if condition == "neighbour":
                neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
                time.sleep(args.settle)
            try:
                for name in chosen:
                    options, env = VARIANTS[name]
                    res = run_predict(args.clip, options, env)
                    poses = res.pop("poses")
                    if reference is None:
                        reference = poses
                    same_keys = poses.keys() == reference.keys()
                    worst = (
                        max(
                            max(abs(a - b) for a, b in zip(poses[k], reference[k], strict=True))
                            for k in poses
                        )
                        if same_keys and poses
                        else None
                    )
                    row = {"round": r, "condition": condition, "variant": name, **res}
                    row["same_ids_and_persons_as_first_run"] = same_keys
                    row["max_keypoint_difference_px"] = worst
                    rows.append(row)
                    print(json.dumps(row), flush=True)
            finally:
                if neighbour is not None:
                    neighbour.kill()
                    neighbour.wait()
    results = {
        "command": command_line(),
        "clip": args.clip.name,
        "machine": machine_info(),
        "rows": rows,
    }
    write_results(args.name, results, markdown(results), args.out)
    return 0


def markdown(r: dict[str, Any]) -> str:
    table = md_table(
        [
            "condition",
            "variant",
            "threads used",
            "seconds",
            "1-min load before",
            "track ids",
            "same persons as run 1",
            "max keypoint diff (px)",
        ],
        [
            [
                x["condition"],
                x["variant"],
                x["threads"],
                x["seconds"],
                x["load_before"],
                " ".join(str(i) for i in x["ids"]),
                x["same_ids_and_persons_as_first_run"],
                x["max_keypoint_difference_px"],
            ]
            for x in r["rows"]
        ],
    )
    return "\n".join(
        [
            f"`semapose predict {r['clip']} --no-video` wall-clock, default threads against "
            f"`--threads 1`, alone and beside one CPU-bound neighbour process. `{r['command']}`",
            "",
            table,
            "",
            f"On {machine_line(r['machine'])}. The machine is shared with other engineers' "
            "jobs: 'alone' means no neighbour of ours, not an idle machine (the load column "
            "says how busy it was when each run started).",
            "",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
