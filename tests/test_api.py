"""The Python API (``PoseEstimator``) and the README example in docs/predict.md."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from test_predict_helpers import (
    make_video,
    moving_boxes,
    save_checkpoint,
    ssdlite_available,
    tiny_cfg,
    write_box_file,
)

pytest.importorskip("torch")

from semapose import PoseEstimator  # noqa: E402
from semapose.inference.detectors.boxfile import BoxFileDetector  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "predict.md"
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("w") / "tiny.safetensors", tiny_cfg())


def test_predict_yields_tracked_persons_per_frame(tmp_path: Path, ckpt: Path) -> None:
    n = 7
    video = make_video(tmp_path / "v.mp4", n)
    boxes = moving_boxes(n, 2)
    est = PoseEstimator.from_pretrained(ckpt, device="cpu")
    frames = list(est.predict(video, boxes=write_box_file(tmp_path / "b.json", boxes)))
    assert [f.index for f in frames] == list(range(n))
    for f in frames:
        assert len(f.persons) == len(boxes[f.index])
        for p in f.persons:
            assert p.keypoints.shape == (17, 2) and p.scores.shape == (17,)
            assert p.box.shape == (4,) and isinstance(p.track_id, int)
    assert {p.track_id for f in frames for p in f.persons} == {0, 1}
    # arrays of frames work as well as files, and online mode gives a result per pushed frame
    images = [np.zeros((120, 160, 3), np.uint8) + i for i in range(3)]
    online = PoseEstimator.from_pretrained(ckpt, device="cpu", online=True)
    out = list(online.predict(images, detector=BoxFileDetector(boxes), return_images=True))
    assert len(out) == 3 and out[0].image is not None and out[0].image.shape == (120, 160, 3)


def test_bad_frames_raise_input_error(ckpt: Path) -> None:
    from semapose.errors import InputError

    est = PoseEstimator.from_pretrained(ckpt, device="cpu")
    with pytest.raises(InputError, match="RGB uint8"):
        list(est.predict([np.zeros((4, 4), np.float32)], detector=BoxFileDetector({})))


def test_single_frame_weights_warn(tmp_path: Path) -> None:
    from semapose.inference.loading import SingleFrameWarning

    ckpt = save_checkpoint(tmp_path / "s.safetensors", tiny_cfg(temporal="none"))
    with pytest.warns(SingleFrameWarning):
        PoseEstimator.from_pretrained(ckpt, device="cpu")


@pytest.mark.parametrize("doc", [README, DOC], ids=["README", "predict.md"])
def test_readme_example_runs(
    doc: Path, tmp_path: Path, ckpt: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The snippet of docs/predict.md, verbatim except for the video and the default weights:
    the test asks for the tiny synthetic model by name (fast, no download)."""
    text = doc.read_text(encoding="utf-8")
    match = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert match, f"{doc.name} has an api-example code block"
    code = match.group(1)
    monkeypatch.chdir(tmp_path)
    make_video(tmp_path / "video.mp4", 4)
    from semapose.weights import resolve

    monkeypatch.setattr(resolve, "DEFAULT_WEIGHTS", "tiny_synthetic")
    if not resolve.BUNDLED_DIR.joinpath(resolve.BUNDLED["tiny_synthetic"].file).is_file():
        monkeypatch.setattr(resolve, "bundled_path", lambda name="": ckpt)
    # the default detector needs its weights; fall back to fixed boxes without them (no fetch)
    if not ssdlite_available():
        from semapose.inference import detectors

        monkeypatch.setattr(
            detectors, "build_detector", lambda *a, **k: BoxFileDetector(moving_boxes(4))
        )
    exec(compile(code, str(doc), "exec"), {"__name__": "__readme__"})
    out = capsys.readouterr().out
    assert "frames" in out
    assert "np.float64" not in out and "array(" not in out  # printed as a user expects
