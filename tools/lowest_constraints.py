"""Print pip constraints that pin every dependency of pyproject.toml to its lower bound.

Usage::

    python tools/lowest_constraints.py [--extra NAME ...] > lowest.txt
    pip install -c lowest.txt .

Each requirement ``name>=X`` (with any other clauses, e.g. ``<5.1``) becomes
``name==X``; a requirement without a lower bound is left to pip (a line saying so goes
to stderr). CI's lowest-versions job (.ci/run) installs with these constraints and runs
``semapose predict`` on a real clip, so the lower bounds in pyproject.toml are proven,
not hoped for. Needs Python >= 3.11 (tomllib).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
#: a PEP 508 requirement: name, optional [extras], then the version clauses (no markers here)
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;]*)")


def lower_bound(requirement: str) -> tuple[str, str | None]:
    """``(name, lowest version)`` of one requirement string; ``None`` without ``>=`` / ``==``."""
    found = _REQUIREMENT.match(requirement)
    if found is None:
        raise ValueError(f"cannot read requirement {requirement!r}")
    name, clauses = found.group(1), found.group(3)
    for clause in clauses.split(","):
        clause = clause.strip()
        for op in (">=", "==", "~="):
            if clause.startswith(op):
                return name, clause[len(op) :].strip()
    return name, None


def lowest_constraints(pyproject: Path, extras: list[str]) -> list[str]:
    """``name==lower`` lines for the project's dependencies and the named extras."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    optional = project.get("optional-dependencies", {})
    for extra in extras:
        if extra not in optional:
            raise SystemExit(f"{pyproject}: no optional dependency group {extra!r}")
        requirements += optional[extra]
    lines: dict[str, str] = {}
    for requirement in requirements:
        name, low = lower_bound(requirement)
        if low is None:
            print(f"# {name}: no lower bound, left to pip", file=sys.stderr)
            continue
        lines[name.lower()] = f"{name}=={low}"
    return list(lines.values())


def check_installed(lines: list[str]) -> list[str]:
    """The constraints the running environment does not meet (local labels such as
    ``+cpu`` ignored; ``2.13`` equals ``2.13.0``)."""
    from importlib.metadata import PackageNotFoundError, version

    def release(v: str) -> tuple[int, ...]:
        parts = [int(x) for x in re.findall(r"\d+", v.split("+")[0])]
        while parts and parts[-1] == 0:
            parts.pop()
        return tuple(parts)

    wrong = []
    for line in lines:
        name, wanted = line.split("==")
        try:
            got = version(name)
        except PackageNotFoundError:
            wrong.append(f"{name}: not installed (wanted {wanted})")
            continue
        if release(got) != release(wanted):
            wrong.append(f"{name}: {got} installed, lower bound {wanted}")
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    parser.add_argument("--extra", action="append", default=[], help="optional group to add")
    parser.add_argument(
        "--check",
        action="store_true",
        help="instead: check that this Python's environment has exactly the lower bounds",
    )
    args = parser.parse_args(argv)
    lines = lowest_constraints(args.pyproject, args.extra)
    if args.check:
        wrong = check_installed(lines)
        for w in wrong:
            print(f"lowest versions: {w}", file=sys.stderr)
        if not wrong:
            print(f"lowest versions installed: {', '.join(lines)}")
        return 1 if wrong else 0
    print(f"# lower bounds of {args.pyproject.name} (tools/lowest_constraints.py)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
