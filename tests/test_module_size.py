"""No module in src/ over 500 lines, except the ones listed with the issue that splits them."""

from __future__ import annotations

from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "semapose"
LIMIT = 500
#: path under src/semapose -> why it may still be longer (remove the entry once it is not)
ALLOWED = {}


def _lengths() -> dict[str, int]:
    return {
        p.relative_to(SRC).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
        for p in sorted(SRC.rglob("*.py"))
    }


def test_no_module_over_the_limit() -> None:
    over = {k: n for k, n in _lengths().items() if n > LIMIT and k not in ALLOWED}
    assert not over, f"modules over {LIMIT} lines: {over}"


def test_allowed_exceptions_are_still_needed() -> None:
    lengths = _lengths()
    stale = [k for k in ALLOWED if lengths.get(k, 0) <= LIMIT]
    assert not stale, f"now within {LIMIT} lines (or gone): remove from ALLOWED: {stale}"
