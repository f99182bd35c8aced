"""Red-team round on what issue 24 built: hostile inputs to the bounded reader, the
state schemas, the detection check, the weights-file rules, the tflite reader, the model
size check, the JPEG walk, the option ranges and the signal handling.

Each case must end as the contract says: a SemaposeError (one line, exit 2 in the CLI)
or the documented right result, within a time and memory bound; never another
exception, a hang or a silent wrong result (:mod:`harness.cases`). The cases live in
``reliability_cases_io.py`` and ``reliability_cases_fit.py``. Run from the repository root:

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/reliability_attack.py

Writes benchmarks/results/reliability_attack.{json,md}.
"""

from __future__ import annotations

import time

import reliability_cases_fit
import reliability_cases_io
from harness.cases import run_cases
from harness.cli import parser
from harness.report import write_results


def main(argv: list[str] | None = None) -> None:
    args = parser(__doc__).parse_args(argv)
    result = run_cases(reliability_cases_io.CASES.items + reliability_cases_fit.CASES.items)
    lines = [
        "# Red-team round on issue 24's fixes",
        "",
        "`PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/reliability_attack.py` "
        f"(CPU, {time.strftime('%Y-%m-%d')}): **{result['right']} of {result['cases']} right**.",
        "",
        "| case | expected | outcome | right | s |",
        "|---|---|---|---|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['case']} | {r['expected']} | {r['outcome']} | "
                     f"{'yes' if r['right'] else 'NO'} | {r['seconds']} |")  # fmt: skip
    write_results("reliability_attack", result, "\n".join(lines), args.out, indent=1, show=False)
    print(f"{result['right']} of {result['cases']} right")


if __name__ == "__main__":
    main()
