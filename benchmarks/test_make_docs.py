"""docs/benchmarks.md is generated; it must match its template and the saved results."""

from __future__ import annotations

import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _make_docs():  # type: ignore[no-untyped-def]
    import make_docs

    return importlib.reload(make_docs)  # a fresh module: the tests monkeypatch it


def test_benchmarks_doc_is_regenerated_from_template_and_results() -> None:
    make_docs = _make_docs()
    expected = make_docs.render(make_docs.TEMPLATE.read_text(encoding="utf-8"))
    actual = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/benchmarks.md is stale: run python benchmarks/make_docs.py"
    # every included table exists and every placeholder was written
    assert "not run yet" not in actual
    assert "_DISCUSSION" not in actual


def test_make_docs_marks_missing_results(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    make_docs = _make_docs()
    monkeypatch.setattr(make_docs, "RESULTS", tmp_path)
    monkeypatch.setattr(make_docs, "ROOT", tmp_path.parent)
    (tmp_path / "here.md").write_text("# Title\n\n| a |\n", encoding="utf-8")
    out = make_docs.render("intro\n<!-- include here -->\n<!-- include absent -->\n")
    assert out.startswith("intro\n\n| a |\n")  # title dropped, table kept
    assert "not run yet" in out and "absent.md" in out
