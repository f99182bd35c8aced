"""Markdown tables and the result files every benchmark writes.

Every result file is written atomically (``semapose.io.atomic``) under
``benchmarks/results/``: ``NAME.json`` (all numbers, the command and the machine) and
``NAME.md`` (the tables that docs/benchmarks.md quotes, via ``make_docs.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.machine import command_line, machine_line
from harness.paths import RESULTS


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


def provenance(command: str, info: dict[str, Any]) -> list[str]:
    """The two closing lines of a results page: the command and the machine."""
    return [f"Command: `{command}`  ", f"Machine: {machine_line(info)}"]


def write_results(
    name: str,
    data: dict[str, Any],
    markdown: str,
    out: Path = RESULTS,
    indent: int = 2,
    show: bool = True,
) -> None:
    """``out/NAME.json`` and ``out/NAME.md``, both written atomically; prints the markdown
    (unless ``show`` is false). NaN and infinity become null in the JSON."""
    from semapose.io.atomic import atomic_write_json, atomic_write_text

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / f"{name}.json", _finite(data), indent=indent)
    atomic_write_text(out / f"{name}.md", markdown.rstrip() + "\n")
    if show:
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


# ----------------------------------------------------------------------------- sections


def load_sections(out: Path, name: str) -> dict[str, Any]:
    """``out/NAME.json`` as saved (its ``sections`` kept), or a new result: a script with
    sections (``--only a,b``) re-measures some and keeps the others' numbers."""
    path = out / f"{name}.json"
    result: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    result.setdefault("sections", {})
    return result


def section_record(
    data: dict[str, Any],
    machine: dict[str, Any],
    quick: bool,
    wall_s: float,
    threads: int | None = None,
) -> dict[str, Any]:
    """One section's numbers with the command and machine that measured them."""
    rec: dict[str, Any] = {"data": data, "command": command_line(), "machine": machine}
    if threads is not None:
        rec["threads"] = threads
    rec.update(quick=quick, wall_s=wall_s)
    return rec


def section_footer(s: dict[str, Any]) -> list[str]:
    """The lines under a section's table: its command (quick or not) and machine."""
    return [
        f"Command: `{s['command']}`{' (quick)' if s['quick'] else ''}  ",
        f"Machine: {machine_line(s['machine'])}",
        "",
    ]
