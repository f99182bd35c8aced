"""Cases of ``benchmarks/reliability_attack.py``: fit's state, tracks and cache files, the
fingerprint, CSV cells, signal handling, option ranges and the smoother's settings."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np

from harness.cases import Cases
from harness.models import tiny_cfg, tiny_model

CASES = Cases()


# ----------------------------------------------------------------------------- fit state / work


def _fit_loop(model: Any, fc: Any) -> Any:
    """The engine's loop as ``fit`` builds it (the source only names the loss method)."""
    from types import SimpleNamespace

    from semapose.engine.cache_fit import fit_loop

    source = SimpleNamespace(loss_method="feature_loss_terms", steps_per_epoch=fc.steps)
    return fit_loop(model, tiny_cfg(), source, fc)


def _fit_state(d: Path, state: Any) -> Any:
    import torch

    from semapose.engine.cache_fit import CacheFitConfig
    from semapose.engine.fit_state import load_fit_state

    model = tiny_model(tiny_cfg())
    fc = CacheFitConfig(steps=10)
    torch.save(state, d / "fit_state.pt")
    load_fit_state(d / "fit_state.pt", model, loop := _fit_loop(model, fc), fc)
    return loop.step, None


def _good_state() -> dict[str, Any]:
    from dataclasses import asdict

    from semapose.engine.cache_fit import CacheFitConfig

    model = tiny_model(tiny_cfg())
    fc = CacheFitConfig(steps=10)
    loop = _fit_loop(model, fc)
    loop.step = 5
    return {
        **loop.state(),
        "temporal": model.temporal.state_dict(),
        "head": model.head.state_dict(),
        "log": [{"step": 5, "lr": 0.1, "seconds": 1.0}],
        "fit_config": asdict(fc),
    }


@CASES.case("fit_state: step True")
def _(d: Path) -> Any:
    return _fit_state(d, {**_good_state(), "step": True})


@CASES.case("fit_state: log seconds NaN")
def _(d: Path) -> Any:
    return _fit_state(d, {**_good_state(), "log": [{"step": 5, "seconds": float("nan")}]})


@CASES.case("fit_state: temporal is a list")
def _(d: Path) -> Any:
    return _fit_state(d, {**_good_state(), "temporal": [1, 2]})


@CASES.case("fit_state: optimizer missing")
def _(d: Path) -> Any:
    s = _good_state()
    del s["optimizer"]
    return _fit_state(d, s)


@CASES.case("fit_state: log steps not increasing")
def _(d: Path) -> Any:
    return _fit_state(d, {**_good_state(), "log": [{"step": 5}, {"step": 3}]})


@CASES.case("fit_state: the good state loads", "ok")
def _(d: Path) -> Any:
    assert _fit_state(d, _good_state())[0] == 5


def _runs(d: Path, run: dict[str, Any]) -> Any:
    from semapose.fitting.tracks import load_runs_checked

    (d / "tracks.json").write_text(json.dumps([run]))
    return load_runs_checked(d / "tracks.json")


_RUN = {"video": "v.mp4", "track_id": 1, "frames": [0, 1], "boxes": [[0, 0, 5, 5], [0, 0, 5, 5]]}


@CASES.case("tracks.json: frames not consecutive")
def _(d: Path) -> Any:
    return _runs(d, {**_RUN, "frames": [0, 2]})


@CASES.case("tracks.json: negative frame")
def _(d: Path) -> Any:
    return _runs(d, {**_RUN, "frames": [-1, 0]})


@CASES.case("tracks.json: box of width 0")
def _(d: Path) -> Any:
    return _runs(d, {**_RUN, "boxes": [[0, 0, 0, 5], [0, 0, 5, 5]]})


@CASES.case("tracks.json: track_id a string")
def _(d: Path) -> Any:
    return _runs(d, {**_RUN, "track_id": "1"})


def _cache(d: Path, **index: Any) -> Any:
    from semapose.data.feature_store import check_feature_store

    c = d / "cache"
    c.mkdir()
    base = {"version": 1, "image_size": [64, 64], "heatmap_stride": 4, "feature_shape": [2, 4, 4],
            "clips": [{"name": "a"}]}  # fmt: skip
    base.update({k: v for k, v in index.items() if not k.startswith("rows_")})
    (c / "index.json").write_text(json.dumps(base))
    np.save(c / "inputs.npy", np.zeros((2, 2, 4, 4), np.float16))
    np.save(c / "clean.npy", np.zeros((0, 2, 4, 4), np.float16))
    rows = {
        "clip": np.array([0, 0]),
        "frame": np.array([0, 1]),
        "clean_row": np.array([-1, -1]),
        "keypoints": np.zeros((2, 17, 2), np.float32),
        "weights": np.ones((2, 17), np.float32),
    }
    rows.update({k[5:]: v for k, v in index.items() if k.startswith("rows_")})
    np.savez(c / "rows.npz", **rows)
    return check_feature_store(c)


@CASES.case("cache: image_size [0, 0]")
def _(d: Path) -> Any:
    return _cache(d, image_size=[0, 0])


@CASES.case("cache: clip index out of range")
def _(d: Path) -> Any:
    return _cache(d, rows_clip=np.array([0, 5]))


@CASES.case("cache: NaN keypoints")
def _(d: Path) -> Any:
    return _cache(d, rows_keypoints=np.full((2, 17, 2), np.nan, np.float32))


@CASES.case("cache: feature shape disagrees with inputs.npy")
def _(d: Path) -> Any:
    return _cache(d, feature_shape=[3, 4, 4])


@CASES.case("cache: a good cache passes", "ok")
def _(d: Path) -> Any:
    _cache(d)


# ----------------------------------------------------------------------------- misc


@CASES.case("fingerprint: a FIFO is never read", "ok")
def _(d: Path) -> Any:
    from semapose.io.fingerprint import file_digest

    os.mkfifo(d / "p")
    assert "kind" in file_digest(d / "p")


@CASES.case("csv: cells starting with tab and CR escaped", "ok")
def _(d: Path) -> Any:
    from semapose.io.csv_out import text_cell

    assert text_cell("\tx").startswith("'") and text_cell("\rx").startswith("'")
    assert text_cell("000001.jpg") == "000001.jpg"


@CASES.case("signals: StopRequest outside the main thread changes nothing", "ok")
def _(d: Path) -> Any:
    from semapose.io.signals import StopRequest

    errors: list[BaseException] = []

    def run() -> None:
        try:
            with StopRequest() as stop:
                assert stop.requested == 0
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    assert not errors and signal.getsignal(signal.SIGINT) is signal.default_int_handler


@CASES.case("signals: a second Ctrl-C acts at once", "ok")
def _(d: Path) -> Any:
    from semapose.io.signals import StopRequest

    try:
        with StopRequest() as stop:
            os.kill(os.getpid(), signal.SIGINT)
            assert stop.requested == signal.SIGINT
            os.kill(os.getpid(), signal.SIGINT)
        raise AssertionError("the second signal did nothing")
    except KeyboardInterrupt:
        pass


@CASES.case("options: fit --lr -0.0")
def _(d: Path) -> Any:
    import argparse

    from semapose.commands.options import check_fit_options

    ns = argparse.Namespace(steps=1, batch=1, lr=-0.0, seed=0, rate=0.5, detector=None)
    return check_fit_options(ns)


@CASES.case("options: fit --detector 'SSDLITE ' accepted", "ok")
def _(d: Path) -> Any:
    import argparse

    from semapose.commands.options import check_fit_options

    ns = argparse.Namespace(steps=1, batch=1, lr=1e-3, seed=0, rate=0.5, detector="SSDLITE ")
    check_fit_options(ns)


@CASES.case("smoothing: min_cutoff 1e308")
def _(d: Path) -> Any:
    from semapose.inference.smoothing import OneEuroSmoother

    return OneEuroSmoother(min_cutoff=1e308)
