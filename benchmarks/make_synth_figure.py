"""Draw docs/figures/synthetic_samples.png: one scene clean and under each degradation.

Usage: ``python benchmarks/make_synth_figure.py [--out PATH] [--seed S] [--severity N]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[1] / "docs" / "figures" / "synthetic_samples.png"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--severity", type=int, default=4)
    args = ap.parse_args(argv)
    from semapose.data.synthetic.figure import make_sample_figure

    path = make_sample_figure(args.out, seed=args.seed, severity=args.severity)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
