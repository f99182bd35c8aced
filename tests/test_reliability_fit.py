"""``semapose fit``'s work files and options (issue 24): damaged state, tracks and cache
are one line naming the file (exit 2), other inputs start over, each video's tracking
is kept as soon as it is done, and Ctrl-C checkpoints."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cli_helpers import FIT_TINY_SET  # noqa: E402
from semapose.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A finished fit of one synthetic video (its output folder is copied per test)."""
    from semapose.data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("fitrel")
    generate_dataset(
        root / "synth", 1, 10, 3, size=(256, 192), people=(1, 1), degrade="none", split="val"
    )
    videos = root / "videos"
    videos.mkdir()
    (root / "synth" / "videos" / "val" / "200000_synth_val.mp4").rename(videos / "clip.mp4")
    out = root / "fit"
    assert main(_argv(videos, out)) == 0
    return {"videos": videos, "out": out}


def _argv(videos: Path, out: Path, *extra: str) -> list[str]:
    return ["fit", str(videos), "--out", str(out), "--steps", "4", "--batch", "2",
            "--no-progress", *extra, *FIT_TINY_SET]  # fmt: skip


def _one_line(capsys: Any, argv: list[str], *needles: str) -> str:
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert len(err) == 1, err
    for needle in needles:
        assert needle in err[0], (needle, err[0])
    return err[0]


def _state(out: Path) -> dict[str, Any]:
    return torch.load(out / "fit_state.pt", weights_only=True)  # type: ignore[no-any-return]


def _nan_weights(out: Path) -> None:
    s = _state(out)
    next(iter(s["temporal"].values())).fill_(float("nan"))
    torch.save(s, out / "fit_state.pt")


def _edit_state(**changes: Any) -> Any:
    def edit(out: Path) -> None:
        s = _state(out)
        for k, v in changes.items():
            s[k] = v(s) if callable(v) else v
        torch.save(s, out / "fit_state.pt")

    return edit


def _index(**changes: Any) -> Any:
    def edit(out: Path) -> None:
        p = out / "cache" / "index.json"
        d = json.loads(p.read_text())
        d.update(changes)
        p.write_text(json.dumps(d))

    return edit


def _tracks(edit_run: Any) -> Any:
    def edit(out: Path) -> None:
        p = out / "tracks.json"
        d = json.loads(p.read_text())
        edit_run(d[0])
        p.write_text(json.dumps(d))

    return edit


def _cut(name: str, fraction: float = 0.5) -> Any:
    def edit(out: Path) -> None:
        p = out / name
        p.write_bytes(p.read_bytes()[: int(p.stat().st_size * fraction)])

    return edit


DAMAGE = {
    "state random": (lambda o: (o / "fit_state.pt").write_bytes(os.urandom(4096)), "fit_state.pt"),
    "state empty": (lambda o: (o / "fit_state.pt").write_bytes(b""), "fit_state.pt"),
    "state a list": (lambda o: torch.save([1, 2], o / "fit_state.pt"), "top level"),
    "state NaN weights": (_nan_weights, "finite weights"),
    "state negative step": (_edit_state(step=-5), "step"),
    "state step 10^9": (_edit_state(step=10**9), "step"),
    "log entry missing step": (_edit_state(log=[{"lr": 0.1}]), "log[0].step"),
    "log entry with a string": (
        _edit_state(log=lambda s: [{**s["log"][0], "seconds": "x"}]),
        "log[0].seconds",
    ),
    "tracks truncated": (_cut("tracks.json"), "tracks.json"),
    "tracks unknown key": (_tracks(lambda r: r.update(evil=1)), "tracks.json: [0]"),
    "tracks string box": (_tracks(lambda r: r["boxes"].__setitem__(0, "box")), "tracks.json: [0]"),
    "index truncated": (_cut("cache/index.json"), "index.json"),
    "heatmap_stride 0": (_index(heatmap_stride=0), "heatmap_stride"),
    "inputs.npy truncated": (_cut("cache/inputs.npy", 0.6), "inputs.npy"),
    "rows.npz garbage": (
        lambda o: (o / "cache" / "rows.npz").write_bytes(b"PK" + os.urandom(999)),
        "rows.npz",
    ),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_damaged_work_files_exit_2_naming_the_file(
    done: dict[str, Path], tmp_path: Path, capsys: Any, case: str
) -> None:
    out = tmp_path / "fit"
    shutil.copytree(done["out"], out)
    damage, needle = DAMAGE[case]
    damage(out)
    _one_line(capsys, _argv(done["videos"], out), needle)


def test_other_inputs_start_over_instead_of_training_on_old_tracks(
    done: dict[str, Path], tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "fit"
    shutil.copytree(done["out"], out)
    index = json.loads((out / "cache" / "index.json").read_text())
    capsys.readouterr()
    assert main(_argv(done["videos"], out, "--degrade", "motion_blur", "--rate", "0.3")) == 0
    err = capsys.readouterr().err
    assert "start over" in err and "degrade" in err
    rebuilt = json.loads((out / "cache" / "index.json").read_text())
    assert (
        (rebuilt["degrade"], rebuilt["rate"])
        == ("motion_blur", 0.3)
        != (index["degrade"], index["rate"])
    )


def test_each_videos_tracking_is_kept_when_a_later_video_is_corrupt(
    done: dict[str, Path], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(done["videos"] / "clip.mp4", videos / "a.mp4")
    (videos / "z.mp4").write_bytes(b"\x00" * 5000)  # sorted last, corrupt
    out = tmp_path / "fit"
    assert main(_argv(videos, out)) == 2
    assert (out / "tracks" / "0000_a.mp4.json").is_file()
    shutil.copy(done["videos"] / "clip.mp4", videos / "z.mp4")  # the bad one replaced
    import semapose.fitting.tracks as U

    tracked: list[str] = []
    real = U.track_video
    monkeypatch.setattr(
        U, "track_video", lambda v, **k: tracked.append(Path(v).name) or real(v, **k)
    )
    assert main(_argv(videos, out)) == 0
    assert tracked == ["z.mp4"]  # a.mp4's tracking was reused


@pytest.mark.parametrize(
    ("option", "value"),
    [("--lr", "nan"), ("--lr", "inf"), ("--lr", "1e30"), ("--lr", "10"), ("--seed", "-1"),
     ("--seed", str(10**20)), ("--batch", "100000000"), ("--detector", "nosuch")],
)  # fmt: skip
def test_fit_option_values_are_checked_before_work(
    tmp_path: Path, capsys: Any, option: str, value: str
) -> None:
    line = _one_line(capsys, ["fit", str(tmp_path), "--out", str(tmp_path / "o"), option, value])
    assert option in line and "--boxes" not in line


def test_fit_resume_is_not_suggested_as_set(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        main(["fit", "x", "--out", "y", "--resume"])
    err = capsys.readouterr().err
    assert "-> --set" not in err and "always continues" in err


def test_ctrl_c_checkpoints_the_last_finished_step(done: dict[str, Path], tmp_path: Path) -> None:
    from semapose.config import load_config
    from semapose.data.feature_store import FeatureStore
    from semapose.engine.cache_fit import FIT_PRESET, CacheFitConfig, fit_on_cache
    from semapose.models.build import build_model

    cfg = load_config(None, [*FIT_PRESET, *FIT_TINY_SET[1:]])
    model = build_model(cfg)
    cache = FeatureStore(done["out"] / "cache")
    fc = CacheFitConfig(steps=40, batch_size=2, checkpoint_every=50, log_every=5)

    def interrupt(rec: dict[str, Any]) -> None:
        if rec["step"] == 10:
            os.kill(os.getpid(), signal.SIGINT)

    rows = np.arange(len(cache))
    with pytest.raises(KeyboardInterrupt):
        fit_on_cache(model, cfg, cache, rows, fc, out_dir=tmp_path, resume=True, on_log=interrupt)
    assert torch.load(tmp_path / "fit_state.pt", weights_only=True)["step"] == 10
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_full_disk_is_found_before_the_cache_is_mapped(
    done: dict[str, Path], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: SIGBUS while writing the memory-mapped cache, the lock and a partial cache
    left behind."""
    import semapose.io.freespace as fs

    out = tmp_path / "fit"
    shutil.copytree(done["out"], out)
    shutil.rmtree(out / "cache")
    (out / "fit_state.pt").unlink()
    monkeypatch.setattr(fs, "free_bytes", lambda folder: 4096)
    line = _one_line(capsys, _argv(done["videos"], out), "cache", "free disk space")
    assert "4.0 KiB free" in line
    assert not (out / "cache.partial").exists() and not (out / "cache").exists()


def test_a_full_disk_while_saving_the_fit_state_is_one_line(
    done: dict[str, Path], tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: torch 2.13's 'unexpected pos' RuntimeError traceback."""
    import semapose.io.freespace as fs

    out = tmp_path / "fit"
    shutil.copytree(done["out"], out)
    (out / "fit_state.pt").unlink()
    monkeypatch.setattr(fs, "free_bytes", lambda folder: 1 << 16)
    _one_line(capsys, _argv(done["videos"], out), "fit_state.pt", "free disk space")
