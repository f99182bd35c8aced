"""`semapose report`: one self-contained HTML page per run (issue 25), opened in a real
browser (headless Chromium from Debian; the browser tests skip with a reason without it)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_predict_helpers import SIZE, make_video, moving_boxes, tiny_cfg, tiny_model

torch = pytest.importorskip("torch")
cv2 = pytest.importorskip("cv2")

from semapose.report import series as S  # noqa: E402
from semapose.report.page import write_report  # noqa: E402

SECTIONS = ("settings", "video", "timeline", "confidence", "trajectories", "angles")


class Boxes:
    def __init__(self, n: int) -> None:
        self.boxes = moving_boxes(n, 2)

    def detect(self, frame: np.ndarray, index: int | None = None) -> np.ndarray:
        return self.boxes[int(index or 0)]


@pytest.fixture(scope="module")
def run_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished predict output (tiny model, two moving people, overlay video) plus a
    hidden person written into its PoseTrack file for the timeline."""
    from semapose.inference.job import JobOptions, predict_source
    from semapose.inference.pipeline import RunnerOptions

    tmp = tmp_path_factory.mktemp("report")
    n = 12
    video = make_video(tmp / "walk.mp4", n)
    opts = RunnerOptions(input_size=SIZE, offsets=(-1, 1), flip_test=False)
    job = JobOptions(out_dir=tmp / "out", progress=False, fingerprint={"weights": "tiny"})
    predict_source(video, tiny_model(tiny_cfg(offsets=[-1, 1])), opts, Boxes(n), job)
    doc_path = tmp / "out" / "posetrack" / "walk.json"
    doc = json.loads(doc_path.read_text())
    for a in doc["annotations"]:
        a["scores"] = [0.9] * 17  # the random tiny model scores low: make the curves show
        a["keypoints"] = [v if i % 3 != 2 else 0.9 for i, v in enumerate(a["keypoints"])]
    first = doc["images"][4]["id"]
    for a in doc["annotations"]:
        if a["image_id"] == first and a["track_id"] == 1:
            a["hidden"] = True
    doc_path.write_text(json.dumps(doc))
    return tmp / "out"


def test_series_from_the_written_file(run_out: Path) -> None:
    run = S.load_run(run_out / "posetrack" / "walk.json")
    assert run.frames == 12 and set(run.tracks) == {0, 1}
    assert run.meta["weights"] == "tiny" and run.meta["fps"] == pytest.approx(10)
    assert "seconds" in run.meta and run.meta["settings"] == {}
    spans = S.status_segments(run.tracks[1])
    assert ("hidden", 4, 4) in spans and spans[0] == ("seen", 0, 3)
    angles = S.joint_angles(run.tracks[0])
    assert set(angles) == set(S.ANGLES) and all(len(v) == 12 for v in angles.values())
    finite = np.concatenate([v[np.isfinite(v)] for v in angles.values()])
    assert len(finite) and finite.min() >= 0 and finite.max() <= 180
    assert np.isnan(S.joint_angles(run.tracks[1])["left knee"][4])  # hidden: no angle
    smooth = S.smoothed(run)
    assert smooth[0].keypoints.shape == run.tracks[0].keypoints.shape


def test_status_segments_lost() -> None:
    t = S.Track(0, np.array([0, 1, 5, 6]), np.array([False, True, False, False]),
                np.zeros((4, 17, 2)), np.ones((4, 17)), np.zeros((4, 4)))  # fmt: skip
    assert S.status_segments(t) == [("seen", 0, 0), ("hidden", 1, 1), ("lost", 2, 4),
                                    ("seen", 5, 6)]  # fmt: skip


def test_page_is_self_contained(run_out: Path) -> None:
    page = write_report(run_out, "walk")
    assert page == run_out / "report" / "walk.html"
    text = page.read_text()
    for section in SECTIONS:
        assert f'id="{section}"' in text
    # nothing fetched at view time: no http(s) resources, the video linked relatively
    assert not re.search(r"""(src|href)=["']https?:""", text)
    assert 'src="../video/walk.mp4"' in text and "data:image/jpeg;base64," in text
    embedded = write_report(run_out, "walk", embed_video=True).read_text()
    assert 'src="data:video/mp4;base64,' in embedded


def test_report_command(run_out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from semapose.cli import main

    assert main(["report", str(run_out)]) == 0
    assert "walk.html" in capsys.readouterr().out
    assert main(["report", str(run_out / "nothing")]) == 2


# ----------------------------------------------------------------------------- the browser

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
)


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium not installed (Debian: apt-get install chromium; .ci/run does)")


def browse(page: Path, tmp: Path, *args: str) -> tuple[str, str]:
    """Open ``page`` in headless Chromium: (stdout, the console lines of stderr)."""
    profile = tmp / f"profile{len(list(tmp.glob('profile*')))}"
    cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    console = [ln for ln in done.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    return done.stdout, "\n".join(console)


def page_state(page: Path, tmp: Path) -> dict[str, Any]:
    dom, console = browse(page, tmp, "--window-size=1000,1000", "--dump-dom")
    body = re.search(r"<body([^>]*)>", dom)
    assert body, "the browser gave no DOM"
    attrs = dict(re.findall(r'data-([\w-]+)="([^"]*)"', body.group(1)))
    errors = re.search(r'<div id="errors">(.*?)</div>', dom, re.S)
    return {
        "ready": attrs.get("ready"),
        "layout": json.loads(attrs.get("layout", "{}").replace("&quot;", '"')),
        "height": int(attrs.get("height", "0") or 0),
        "errors": errors.group(1).strip() if errors else "<no errors element>",
        "console": console,
    }


def test_browser_catches_a_script_error(run_out: Path, tmp_path: Path) -> None:
    """The check below can fail: a page with a broken script is caught."""
    broken = tmp_path / "broken.html"
    text = (
        (run_out / "report" / "walk.html").read_text()
        if (run_out / "report" / "walk.html").is_file()
        else write_report(run_out, "walk").read_text()
    )
    broken.write_text(text.replace("</main>", "<script>no_such_function();</script></main>"))
    state = page_state(broken, tmp_path)
    assert "no_such_function" in state["errors"] and "Uncaught" in state["console"]


def test_report_in_a_real_browser(run_out: Path, tmp_path: Path) -> None:
    page = write_report(run_out, "walk")
    state = page_state(page, tmp_path)
    assert state["console"] == "", f"console messages: {state['console']}"
    assert state["errors"] == "" and state["ready"] == "1"
    assert set(SECTIONS) <= set(state["layout"])
    shot = tmp_path / "page.png"
    browse(page, tmp_path, f"--window-size=1000,{state['height']}", f"--screenshot={shot}")
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[0] >= state["height"] - 2
    keep = os.environ.get("SEMAPOSE_REPORT_SHOTS")  # to look at them
    for name in SECTIONS:
        x, y, w, h = state["layout"][name]
        section = image[y : y + h, x : x + w]
        assert section.size, name
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(Path(keep) / f"report_{name}.png"), section)
        # non-blank: more than the title on a white card (ink over 2% of the area, spread)
        ink = (np.abs(section.astype(int) - 255).sum(axis=2) > 60).mean()
        rows_with_ink = (np.abs(section.astype(int) - 255).sum(axis=2) > 60).any(axis=1).mean()
        assert ink > 0.02 and rows_with_ink > 0.3, f"{name}: ink {ink:.3f}, rows {rows_with_ink}"
