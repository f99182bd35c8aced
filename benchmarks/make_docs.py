"""Fill docs/benchmarks.md from its template and the result tables in benchmarks/results/.

Usage::

    python benchmarks/make_docs.py

``benchmarks/benchmarks_doc.template.md`` holds the prose; every line ``<!-- include NAME -->``
is replaced by ``benchmarks/results/NAME.md`` (with its top-level title dropped),
or by a note that the benchmark has not been run yet.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "benchmarks" / "benchmarks_doc.template.md"
TARGET = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results"
MARK = re.compile(r"^<!-- include ([\w.-]+) -->$")


def render(template: str) -> str:
    out = []
    for line in template.splitlines():
        m = MARK.match(line.strip())
        if not m:
            out.append(line)
            continue
        path = RESULTS / f"{m.group(1)}.md"
        if not path.is_file():
            out.append(f"*(not run yet: `{path.relative_to(ROOT)}` is missing)*")
            continue
        body = path.read_text(encoding="utf-8").splitlines()
        if body and body[0].startswith("# "):
            body = body[1:]
        out += [b.replace("\n", "") for b in body]
    return "\n".join(out).rstrip() + "\n"


def main() -> int:
    from semapose.io.atomic import atomic_write_text

    atomic_write_text(TARGET, render(TEMPLATE.read_text(encoding="utf-8")))
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
