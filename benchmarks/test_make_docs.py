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


def test_docs_quote_the_generated_figures() -> None:
    """Tracking figures quoted in README and docs are generated from one results file and
    count posed persons (issue 25): they cannot disagree with each other or the results."""
    make_docs = _make_docs()
    figures = make_docs.figures_from_results()
    assert figures, "benchmarks/results/tracking_real.json is missing"
    for name in make_docs.DOCS_WITH_FIGURES:
        text = (ROOT / name).read_text(encoding="utf-8")
        assert make_docs.REGION.search(text), f"{name} has no generated tracking figures"
        assert make_docs.fill_regions(text, figures) == text, (
            f"{name} is stale: run python benchmarks/make_docs.py"
        )


def test_figures_count_posed_persons_not_hidden_ones() -> None:
    make_docs = _make_docs()
    run = {"frames": 72, "ids": 2, "frames_with_expected": 47,
           "frames_with_expected_incl_hidden": 72}  # fmt: skip
    ball = {"frames": 300, "ids": 5, "frames_with_expected": 150}
    fig = make_docs.tracking_figures({"two_people_72f@10": run, "basketball_300f@10": ball})
    assert "2 posed persons in 47 of 72 frames" in fig["summary"]
    assert "72 of 72 counting the person kept" in fig["summary"]
    assert (
        "**not met** (2 ids, 47/72)" in fig["verdict"] and "**not met** (5 ids)" in fig["verdict"]
    )
    text = "a <!-- tracking:short -->old<!-- /tracking:short --> b"
    assert "47/72" in make_docs.fill_regions(text, fig)
