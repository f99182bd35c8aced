"""The command-line options every benchmark script shares."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.paths import RESULTS


def parser(
    doc: str | None, *, out: str | None = "--out", threads: int | None = None
) -> argparse.ArgumentParser:
    """An argument parser described by the first line of ``doc`` (the script's docstring).

    ``out``: the flag of the results folder (``args.out``, default ``benchmarks/results``;
    None: no such option). ``threads``: the default of ``--threads`` (torch threads; None:
    no such option); the script applies it with :func:`harness.machine.set_threads`.
    """
    ap = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    if out is not None:
        ap.add_argument(out, dest="out", type=Path, default=RESULTS, help="results folder")
    if threads is not None:
        ap.add_argument("--threads", type=int, default=threads, help="torch threads")
    return ap
