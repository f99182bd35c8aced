"""Tracking figures quoted in README and docs are generated from one results file and count
posed persons (issue 25): they cannot disagree with each other or with the results."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _make_docs():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "benchmarks" / "make_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_quote_the_generated_figures() -> None:
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


def test_track_stats_counts_hidden_apart() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from tracking_real import track_stats

    images = [{"id": i} for i in range(3)]
    ann = [{"image_id": i, "track_id": 0} for i in range(3)]
    ann += [{"image_id": 0, "track_id": 1}, {"image_id": 1, "track_id": 1, "hidden": True}]
    stats = track_stats({"images": images, "annotations": ann}, expected=2)
    assert stats["frames_with_expected"] == 1 and stats["frames_with_expected_incl_hidden"] == 2
    assert stats["hidden_person_frames"] == 1 and stats["ids"] == 2
