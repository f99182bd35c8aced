"""The weights road: each source a weights value can name, each file format the reader takes,
the refusals (NaN/inf, pickled code), the device option, and the layering of the packages."""

from __future__ import annotations

import ast
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import torch

from blazepose_helpers import tflite_file
from semapose.cli import main
from semapose.errors import CheckpointError, InputError
from semapose.weights import resolve as R
from semapose.weights.read import (
    check_finite,
    load_state_dict_file,
    read_checkpoint,
    read_safetensors,
    read_torch,
    save_state_dict_file,
)
from test_predict_helpers import make_video, save_checkpoint, tiny_cfg

SRC = Path(__file__).resolve().parents[1] / "src" / "semapose"


# ----------------------------------------------------------------------------- sources


def test_bundled_names_and_default() -> None:
    for name in ("tiny_synthetic", "tiny_synthetic_single"):
        src = R.resolve_weights(name)
        assert src.kind == "bundled" and src.synthetic and src.path.is_file()
    default = R.resolve_weights(None)
    assert default.value == R.DEFAULT_WEIGHTS and default.kind == "bundled"
    assert R.resolve_weights("bundled").path == default.path


def test_asset_name_is_fetched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from semapose.weights import assets

    got = tmp_path / "blazepose_full.tflite"
    calls: list[str] = []
    monkeypatch.setattr(assets, "fetch_asset", lambda n, progress=True: calls.append(n) or got)
    src = R.resolve_weights("blazepose_full")
    assert (src.kind, src.path, calls) == ("asset", got, ["blazepose_full"])
    with pytest.raises(InputError, match="--weights"):  # a detector's file is no pose weights
        R.resolve_weights("ssdlite_person")
    with pytest.raises(InputError, match="model.backbone_weights"):
        R.resolve_weights("yolox-tiny", option="model.backbone_weights")


def test_url_needs_a_checksum(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from semapose.weights import download

    seen: list[tuple[str, str, str]] = []

    def fake_fetch(url: str, sha: str, name: str, cache: Any = None, **kw: Any) -> Path:
        seen.append((url, sha, name))
        return Path(cache) / name

    monkeypatch.setattr(download, "fetch", fake_fetch)
    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path))
    src = R.resolve_weights("https://example.org/m/w.pth#sha256=" + "ab" * 32)
    assert src.kind == "url" and src.path == tmp_path / "urls" / "w.pth"
    assert seen[-1] == ("https://example.org/m/w.pth", "ab" * 32, "w.pth")
    R.resolve_weights("https://example.org/hrnet_w32_coco_256x192-c78dce93_20200708.pth")
    assert seen[-1][1] == "c78dce93"  # OpenMMLab's hash in the file name
    with pytest.raises(InputError, match="#sha256"):
        R.resolve_weights("https://example.org/unchecked.pth")


def test_files_and_training_folders(tmp_path: Path) -> None:
    f = tmp_path / "a.pth"
    f.write_bytes(b"x")
    assert R.resolve_weights(str(f)) == R.WeightsSource(str(f), f, "file")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "s1.safetensors").write_bytes(b"x")
    (run / "last.json").write_text(json.dumps({"weights": "checkpoints/s1.safetensors"}))
    assert R.resolve_weights(run).path == run / "checkpoints" / "s1.safetensors"
    (run / "temporal.safetensors").write_bytes(b"x")  # a `fit` folder's parts
    assert R.resolve_weights(run).path == run / "temporal.safetensors"
    (run / "best.safetensors").write_bytes(b"x")
    assert R.resolve_weights(run).kind == "run"
    assert R.resolve_weights(run).path == run / "best.safetensors"
    two = tmp_path / "two"
    two.mkdir()
    for name in ("a.safetensors", "b.safetensors"):
        (two / name).write_bytes(b"x")
    with pytest.raises(CheckpointError, match="training output folder"):
        R.resolve_weights(two)
    with pytest.raises(InputError, match="tiny_synthetic"):
        R.resolve_weights(tmp_path / "missing.pth")


# ----------------------------------------------------------------------------- formats


def test_formats_read_to_the_same_tensors(tmp_path: Path) -> None:
    sd = {"w": torch.arange(6.0).reshape(2, 3), "n": torch.tensor([3])}
    save_state_dict_file(tmp_path / "a.safetensors", sd, {"k": "v"})
    tensors, meta = read_safetensors(tmp_path / "a.safetensors")
    assert meta["k"] == "v" and torch.equal(tensors["w"], sd["w"])
    torch.save({"state_dict": sd}, tmp_path / "zip.pth")
    torch.save(sd, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    for name in ("a.safetensors", "zip.pth", "legacy.pt"):
        got = load_state_dict_file(tmp_path / name)
        assert set(got) == {"w", "n"} and torch.equal(got["w"], sd["w"]), name


def test_tflite_goes_through_its_reader(tmp_path: Path) -> None:
    from semapose.weights.tflite import read_tflite

    (tmp_path / "x.tflite").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="x.tflite"):
        read_tflite(tmp_path / "x.tflite")


def test_nan_and_inf_weights_are_refused(tmp_path: Path, capsys: Any) -> None:
    bad = {"backbone.w": torch.tensor([1.0, float("nan")]), "head.b": torch.ones(2)}
    check_finite({"ok": torch.ones(3), "i": torch.tensor([1])}, "f")
    with pytest.raises(CheckpointError, match=r"backbone\.w: expected finite weights, got 1 NaN"):
        check_finite(bad, "f")
    torch.save({"state_dict": {"w": torch.tensor([float("inf")])}}, tmp_path / "inf.pth")
    with pytest.raises(CheckpointError, match="inf.pth: w: expected finite"):
        load_state_dict_file(tmp_path / "inf.pth")
    # a semapose checkpoint with one NaN: predict refuses it, one line, exit 2
    ckpt = save_checkpoint(tmp_path / "nan.safetensors", tiny_cfg())
    tensors, meta = read_safetensors(ckpt)
    key = sorted(k for k in tensors if k.startswith("head."))[0]
    tensors[key] = tensors[key].clone().fill_(float("nan"))
    save_state_dict_file(ckpt, tensors, meta)
    video = make_video(tmp_path / "v.mp4", 2)
    rc = main(["predict", str(video), "--out", str(tmp_path / "o"), "--weights", str(ckpt)])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "nan.safetensors" in err[0] and key in err[0], err


class _Payload:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("true",))


def test_refused_pickles_name_the_global_in_one_line(tmp_path: Path) -> None:
    raw = tmp_path / "raw.pth"
    raw.write_bytes(pickle.dumps({"model": _Payload()}))  # protocol 4+: torch cannot parse it
    state = tmp_path / "s.state.pt"
    torch.save({"rng": _Payload()}, state)
    for path in (raw, state):
        with pytest.raises(CheckpointError) as info:
            read_torch(path, "a checkpoint state file")
        msg = str(info.value)
        assert "\n" not in msg and str(path) in msg and "expected a checkpoint state file" in msg
        assert f"Python global {os.system.__module__}.system" in msg, msg
        assert "never unpickles code" in msg
    with pytest.raises(CheckpointError, match=r"system.*never unpickles"):
        read_checkpoint(raw)


# ----------------------------------------------------------------------------- loading


def test_checkpoint_without_its_backbone_uses_the_init_weights(tmp_path: Path) -> None:
    """A file that leaves the (frozen) backbone out is completed from ``model.backbone_weights``;
    without an init source, the missing keys are named."""
    from semapose.config import to_dict
    from semapose.inference.loading import load_model
    from semapose.weights.read import read_safetensors

    cfg = tiny_cfg()
    full = save_checkpoint(tmp_path / "full.safetensors", cfg, seed=3)
    tensors, _ = read_safetensors(full)
    backbone = {k: v for k, v in tensors.items() if k.startswith("backbone.")}
    save_state_dict_file(tmp_path / "bb.safetensors", backbone)
    rest = {k: v for k, v in tensors.items() if not k.startswith("backbone.")}
    cfg.model.backbone_weights = str(tmp_path / "bb.safetensors")
    meta = {"semapose_config": json.dumps(to_dict(cfg))}
    save_state_dict_file(tmp_path / "parts.safetensors", rest, meta)
    a = load_model(full).model.state_dict()
    b = load_model(tmp_path / "parts.safetensors").model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    cfg.model.backbone_weights = ""
    meta = {"semapose_config": json.dumps(to_dict(cfg))}
    save_state_dict_file(tmp_path / "alone.safetensors", rest, meta)
    with pytest.raises(CheckpointError, match=r"missing \d+ \(backbone\."):
        load_model(tmp_path / "alone.safetensors")


def test_only_the_synthetic_weights_carry_the_synthetic_notice(tmp_path: Path) -> None:
    from semapose.inference.loading import load_model

    tiny = load_model("tiny_synthetic")
    assert tiny.bundled and any("synthetic video only" in n for n in tiny.notes)
    own = load_model(save_checkpoint(tmp_path / "t.safetensors", tiny_cfg()))
    assert not any("synthetic" in n for n in own.notes)


# ----------------------------------------------------------------------------- device


def test_device_errors_name_the_option_typed(tmp_path: Path, capsys: Any) -> None:
    from semapose.device import resolve_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(InputError, match="^--device: expected auto, cpu, cuda or cuda:N"):
        resolve_device("tpu:0")
    with pytest.raises(InputError, match="train.device"):
        resolve_device("gpu", "train.device")
    if not torch.cuda.is_available():
        ckpt = save_checkpoint(tmp_path / "t.safetensors", tiny_cfg())
        video = make_video(tmp_path / "v.mp4", 2)
        argv = ["predict", str(video), "--out", str(tmp_path / "o"), "--weights", str(ckpt)]
        assert main([*argv, "--device", "cuda"]) == 2
        err = capsys.readouterr().err
        assert "--device" in err and "train.device" not in err and "no CUDA GPU" in err
        config = SRC.parents[1] / "configs" / "synthetic_cpu_tiny.yaml"
        assert main(["train", str(config), "--device", "cuda:0", "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "--device" in err and "train.device" not in err


# ----------------------------------------------------------------------------- layering


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)  # and ``from semapose import fitting``:
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


ABOVE_DATA = ("semapose.models", "semapose.inference", "semapose.engine", "semapose.fitting")


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("inference", ("semapose.engine", "semapose.fitting")),
        ("weights", ("semapose.models", "semapose.inference", "semapose.engine")),
        ("models", ("semapose.inference", "semapose.engine", "semapose.fitting")),
        ("data", ABOVE_DATA),
        ("engine", ("semapose.fitting",)),
    ],
)
def test_no_import_climbs_up(package: str, forbidden: tuple[str, ...]) -> None:
    """inference/ never imports the training engine; weights/ sits below models/ and both;
    data/ only parses and transforms (below models/, inference/, engine/ and fitting/);
    the fitting package (``semapose fit``'s work, above inference/) is imported by no
    layer below the commands."""
    bad = [
        f"{p.relative_to(SRC)}: {name}"
        for p in sorted((SRC / package).rglob("*.py"))
        for name in _imports(p)
        if name.startswith(forbidden)
    ]
    assert not bad, bad


def test_weights_value_enters_loading_once() -> None:
    """From the predict command to a loaded model, the value is resolved in one place."""
    calls = [
        p.relative_to(SRC).as_posix()
        for p in sorted(SRC.rglob("*.py"))
        if "resolve_weights(" in p.read_text(encoding="utf-8")
    ]
    assert calls == ["inference/loading.py", "models/build.py", "weights/resolve.py"], calls
    text = (SRC / "inference" / "loading.py").read_text(encoding="utf-8")
    assert text.count("resolve_weights(") == 1


# ----------------------------------------------------------------------------- default model


def test_default_is_blazepose_from_the_asset(tmp_path: Path, capsys: Any) -> None:
    """The single-frame entry: every parameter from the asset; ``--weights X.tflite`` the same;
    the default: our temporal module + head over that same backbone."""
    from semapose.inference.loading import load_model
    from semapose.models.backbones.blazepose_head import pretrained_parts

    tflite = tflite_file()
    loaded = load_model(R.SINGLE_FRAME_WEIGHTS)
    assert loaded.source == "blazepose" and loaded.cfg.model.backbone == "blazepose"
    assert not loaded.temporal and not any("synthetic" in n for n in loaded.notes)
    parts = pretrained_parts(tflite)
    own = loaded.model.state_dict()
    for part, sd in parts.items():
        assert all(torch.equal(own[f"{part}.{k}"], v) for k, v in sd.items()), part
    # the same model from the .tflite file given as --weights
    again = load_model(tflite).model.state_dict()
    assert again.keys() == own.keys() and all(torch.equal(again[k], own[k]) for k in own)
    default = load_model(None)
    assert default.source == R.DEFAULT_WEIGHTS == "blazepose_temporal" and default.temporal
    assert not default.notes
    # flip test off by default for both BlazePose entries (2x the backbone; --flip turns it on)
    from semapose.inference.predictor import Predictor

    for name in ("blazepose", "blazepose_temporal"):
        assert "flip=False" in Predictor.from_loaded(load_model(name)).describe(), name
    theirs = default.model.state_dict()
    assert all(torch.equal(theirs[f"backbone.{k}"], v) for k, v in parts["backbone"].items())


def test_default_offline_with_empty_cache_says_what_to_run(
    tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEMAPOSE_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    video = make_video(tmp_path / "v.mp4", 2)
    assert main(["predict", str(video), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    assert len(err) == 1 and "semapose fetch blazepose_full" in err[0], err


def test_single_frame_flag_picks_the_single_frame_weights(capsys: Any) -> None:
    from semapose.cli import build_parser

    args = build_parser().parse_args(["predict", "v.mp4", "--out", "o", "--single-frame"])
    assert args.weights == R.SINGLE_FRAME_WEIGHTS and R.SINGLE_FRAME_WEIGHTS in R.BUNDLED
    with pytest.raises(SystemExit):
        build_parser().parse_args(["predict", "v", "--out", "o", "--single-frame", "--weights=x"])
    assert "not allowed with" in capsys.readouterr().err


def test_fit_folder_with_temporal_parts_loads_over_its_backbone(tmp_path: Path) -> None:
    """``semapose fit``'s output (temporal + head only, ``semapose_parts``) by folder: the
    backbone comes from the config's initial weights, the rest from the file."""
    from semapose.inference.loading import load_model
    from semapose.models.partial import deploy_state, save_partial_weights
    from test_predict_helpers import tiny_model

    cfg = tiny_cfg()
    donor = tiny_model(cfg, seed=5)
    save_state_dict_file(
        tmp_path / "bb.safetensors",
        {f"backbone.{k}": v for k, v in donor.backbone.state_dict().items()},
    )
    cfg.model.backbone_weights = str(tmp_path / "bb.safetensors")
    trained = tiny_model(cfg, seed=6)
    trained.backbone.load_state_dict(donor.backbone.state_dict())
    fit_dir = tmp_path / "fit"
    fit_dir.mkdir()
    (tmp_path / "bb.safetensors").rename(fit_dir / "bb.safetensors")  # issue 24: beside it
    cfg.model.backbone_weights = str(fit_dir / "bb.safetensors")
    save_partial_weights(trained, cfg, fit_dir / "temporal.safetensors")
    loaded = load_model(fit_dir)
    assert loaded.temporal
    got = loaded.model.state_dict()
    want = {
        **deploy_state(trained),
        **{f"backbone.{k}": v for k, v in donor.backbone.state_dict().items()},
    }
    assert all(torch.equal(got[k], v) for k, v in want.items())
