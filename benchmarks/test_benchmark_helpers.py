"""The benchmark scripts' own logic (not timings): tables, aggregation, goal check, docs.

Lives beside the scripts (pytest puts this folder on the import path), so tests/ and
benchmarks/ never import each other."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import accuracy
import make_docs
from harness import machine, report, timing


def test_md_table_alignment_and_cells() -> None:
    text = report.md_table(["a", "b"], [["x", 1.234], ["y", float("nan")]])
    lines = text.splitlines()
    assert lines[1] == "| --- | ---: |"
    assert lines[2] == "| x | 1.23 |"
    assert lines[3] == "| y | n/a |"


def test_time_calls_counts_runs_and_warmup() -> None:
    calls: list[int] = []
    res = timing.time_calls(lambda: calls.append(1), repeat=4, warmup=2)
    assert len(calls) == 6
    assert len(res["runs_s"]) == 4
    assert res["min_s"] <= res["median_s"]


def test_stage_timer_accumulates() -> None:
    timer = timing.StageTimer()
    for _ in range(3):
        with timer("decode"):
            pass
    assert timer.calls["decode"] == 3
    assert timer.seconds["decode"] >= 0.0


def test_write_results_writes_json_and_markdown(tmp_path: Path) -> None:
    report.write_results("x", {"a": 1}, "# T\n\n| a |\n", tmp_path)
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 1}
    assert (tmp_path / "x.md").read_text().startswith("# T")


def _run(clean: float, degraded: float, seed: int) -> dict[str, Any]:
    ev = {
        "mAP": (clean + degraded) / 2,
        "clean": clean,
        "degraded": degraded,
        "by_type": {"noise": degraded},
        "frames_by_type": {"noise": 3},
        "by_severity": {"1": degraded + 1, "5": degraded - 1},
        "frames_by_severity": {"1": 2, "5": 1},
    }
    return {
        "spec": {"out": f"/nonexistent/{seed}"},
        "train_wall_s": 10.0,
        "samples_per_s": 5.0,
        "params_deploy": {"temporal": 10},
        "params_trainable": 20,
        "flops_per_clip": {"temporal": 1, "total": 2},
        "eval": {"val": ev, "test": ev},
    }


def test_aggregate_mean_sd_and_verdict() -> None:
    runs = {
        "single_frame": [_run(50, 30, 0), _run(52, 32, 1)],
        "temporal_difference": [_run(50, 40, 0), _run(50, 42, 1)],
        "heatmap_warping": [_run(49, 38, 0), _run(49, 38, 1)],
        "ours_full": [_run(51, 47, 0), _run(51, 49, 1)],
    }
    agg = accuracy.aggregate(runs)
    assert agg["single_frame"]["test"]["clean"]["mean"] == pytest.approx(51.0)
    assert agg["single_frame"]["test"]["clean"]["sd"] == pytest.approx(1.41421356)
    v = accuracy.verdict(agg)
    assert v["best_pixel_motion"] == "temporal_difference"
    assert v["degraded_gap_vs_pixel_motion"] == pytest.approx(7.0)
    assert v["goal_degraded_plus5"] is True
    assert v["ahead_of_all_on_degraded"] is True
    assert v["best_other_clean"] == "single_frame"
    assert v["clean_gap"] == pytest.approx(0.0)
    assert v["goal_not_behind_clean"] is True  # a tie is not behind
    text = accuracy.markdown(
        {
            "variants": agg,
            "profile": accuracy.PROFILES["smoke"],
            "profile_name": "smoke",
            "command": "c",
            "machine": machine.machine_info(),
            "wall_s": 60.0,
            "jobs": 2,
            "reused_runs": 0,
            "cpu_s_of_runs": 120.0,
            "stage1_wall_s": 5.0,
            "verdict": v,
        }
    )
    assert "| ours_full | 49.5 ± 0.7 | 51.0 ± 0.0 | 48.0 ± 1.4 |" in text


def test_make_docs_includes_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a.md").write_text("# Title\n\n| x |\n")
    monkeypatch.setattr(make_docs, "RESULTS", tmp_path)
    monkeypatch.setattr(make_docs, "ROOT", tmp_path)
    out = make_docs.render("intro\n<!-- include a -->\n<!-- include missing -->\n")
    assert out.splitlines()[:3] == ["intro", "", "| x |"]
    assert "not run yet" in out


def test_track_stats_counts_hidden_apart() -> None:
    from tracking_real import track_stats

    images = [{"id": i} for i in range(3)]
    ann = [{"image_id": i, "track_id": 0} for i in range(3)]
    ann += [{"image_id": 0, "track_id": 1}, {"image_id": 1, "track_id": 1, "hidden": True}]
    stats = track_stats({"images": images, "annotations": ann}, expected=2)
    assert stats["frames_with_expected"] == 1 and stats["frames_with_expected_incl_hidden"] == 2
    assert stats["hidden_person_frames"] == 1 and stats["ids"] == 2


def test_mean_sd_skips_missing_and_formats_by_seeds() -> None:
    from harness.runs import fmt_mean_sd, get_path, mean_sd

    m, sd, vals = mean_sd([1.0, None, 3.0])
    assert (m, vals) == (2.0, [1.0, 3.0]) and sd == pytest.approx(1.41421356)
    assert mean_sd([float("nan"), 2.0], drop_nan=True)[2] == [2.0]
    assert mean_sd([None])[2] == [] and fmt_mean_sd(*mean_sd([None])[:2]) == "n/a"
    assert fmt_mean_sd(2.0, 1.41421356) == "2.0 ± 1.4"
    assert fmt_mean_sd(2.0, 0.0, 1) == "2.0"  # one seed: no sd shown
    assert get_path({"a": {"b": 1}}, "a.b") == 1 and get_path({"a": 1}, "a.b") is None


def test_collect_runs_by_variant_in_order(tmp_path: Path) -> None:
    from harness.runs import collect_runs

    for name, variant in (("b_s0", "b"), ("a_s1", "a"), ("a_s0", "a"), ("a_x_s0", "a_x")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "result.json").write_text(json.dumps({"variant": variant}))
    runs = collect_runs(tmp_path, ["a", "b", "c"])
    assert list(runs) == ["a", "b"] and len(runs["a"]) == 2  # a_x_s0 is another variant's


class _Detector:
    def __init__(self) -> None:
        self.loaded = False

    def detect(self, frame: Any, index: Any = None) -> Any:
        return [index]

    def detect_near(self, frame: Any, boxes: Any, index: Any = None) -> Any:
        return [boxes]

    def load(self) -> None:
        self.loaded = True


def test_timed_detector_counts_by_kind_and_offers_what_predict_uses() -> None:
    from harness.road import TimedDetector
    from harness.timing import StageTimer

    timer = StageTimer()
    det = TimedDetector(_Detector(), timer)
    assert det.detect(None, 3) == [3] and det.detect_near(None, "b", 4) == ["b"]
    det.load()
    assert det.calls == {"full": 1, "near": 1} and det.total_calls == 2
    assert det.log[3][0] == "full" and det.log[4][0] == "near" and timer.calls["detect"] == 2
    bare = TimedDetector(_Detector(), near=False, warm=False)
    assert not hasattr(bare, "detect_near") and not hasattr(bare, "load")


def test_clock_and_interleaved_timing() -> None:
    from harness.timing import Clock, time_interleaved

    with Clock() as clock:
        sum(range(1000))
    frozen = clock.wall
    assert frozen >= 0 and clock.wall == frozen and clock.cpu >= 0
    order: list[str] = []
    runs = time_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 3)
    assert order == ["a", "b"] * 5 and [len(v) for v in runs.values()] == [3, 3]


def test_sections_are_kept_across_runs(tmp_path: Path) -> None:
    from harness.report import load_sections, section_footer, section_record, write_results

    result = load_sections(tmp_path, "s")
    result["sections"]["one"] = section_record({"x": 1}, machine.machine_info(), True, 1.0, 2)
    write_results("s", result, "# s", tmp_path, indent=1, show=False)
    again = load_sections(tmp_path, "s")
    assert again["sections"]["one"]["threads"] == 2
    assert (tmp_path / "s.json").read_text().startswith('{\n "sections"')  # indent 1
    assert section_footer(again["sections"]["one"])[0].endswith("(quick)  ")
