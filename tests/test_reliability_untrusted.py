"""Untrusted files: no loading path runs code from a weights file, a config or an annotation.

A pickle whose ``__reduce__`` would create a marker file is given to every path that
loads weights (predict/export/demo ``--weights``, train's ``model.backbone_weights``,
``SingleFrameHRNet/ViTPose.from_checkpoint``, the training engine's resume); each must
refuse it with a SemaposeError (exit 2 on the CLI) and the marker must never appear.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import TINY_CONFIG, train_argv, train_set

torch = pytest.importorskip("torch")

from semapose.cli import main  # noqa: E402
from semapose.errors import CheckpointError, ConfigError, InputError, SemaposeError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "semapose"


class Payload:
    """Unpickling this runs ``os.system('touch MARKER')``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture()
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


def _evil_files(tmp: Path, marker: Path) -> dict[str, Path]:
    """The same payload in the forms a user might be handed."""
    tmp.mkdir(parents=True, exist_ok=True)
    files = {}
    zip_pth = tmp / "evil_zip.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "meta": Payload(marker)}, zip_pth)
    files["zip"] = zip_pth
    legacy = tmp / "evil_legacy.pt"
    torch.save({"state_dict": Payload(marker)}, legacy, _use_new_zipfile_serialization=False)
    files["legacy"] = legacy
    raw = tmp / "evil_raw.pth"
    raw.write_bytes(pickle.dumps({"model": Payload(marker)}))
    files["raw_pickle"] = raw
    disguised = tmp / "evil.safetensors"  # a pickle under a safetensors name
    torch.save({"w": Payload(marker)}, disguised)
    files["disguised"] = disguised
    return files


def test_payload_really_runs_when_unpickled(tmp_path: Path, marker: Path) -> None:
    """Guard for the tests below: the payload does create the marker if unpickled."""
    files = _evil_files(tmp_path, marker)
    torch.load(files["zip"], weights_only=False)
    assert marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("kind", ["zip", "legacy", "raw_pickle", "disguised"])
def test_library_loaders_refuse_pickled_code(tmp_path: Path, marker: Path, kind: str) -> None:
    from semapose.engine.checkpoint import read_finite_weights, read_training_state
    from semapose.inference.loading import load_model
    from semapose.models.single_frame import SingleFrameHRNet, SingleFrameViTPose
    from semapose.weights.read import load_state_dict_file, read_checkpoint

    path = _evil_files(tmp_path, marker)[kind]
    loaders = [
        read_checkpoint,
        load_state_dict_file,
        read_finite_weights,
        read_training_state,
        SingleFrameHRNet.from_checkpoint,
        lambda p: SingleFrameViTPose.from_checkpoint(p, arch="vit_s"),
        load_model,
    ]
    for load in loaders:
        with pytest.raises(SemaposeError, match=re.escape(path.name)):
            load(path)
        assert not marker.exists(), load
    if kind != "disguised":  # the refusal says why
        with pytest.raises(CheckpointError, match="never unpickles"):
            read_checkpoint(path)


@pytest.mark.parametrize("command", ["predict", "export", "demo", "demo-single"])
def test_cli_weights_refuse_pickled_code(
    tmp_path: Path, marker: Path, capsys: Any, command: str
) -> None:
    evil = _evil_files(tmp_path / "w", marker)["zip"]
    out = str(tmp_path / "out")
    if command == "predict":
        from test_predict_helpers import make_video

        video = make_video(tmp_path / "v.mp4", 2)
        argv = ["predict", str(video), "--out", out, "--weights", str(evil), "--quiet"]
    elif command == "export":
        argv = ["export", "--weights", str(evil), "--out", out, "--no-check"]
    elif command == "demo":
        argv = ["demo", "--weights", str(evil), "--out", out, "--frames", "8"]
    else:
        from test_predict_helpers import save_checkpoint, tiny_cfg

        good = save_checkpoint(tmp_path / "good.safetensors", tiny_cfg())
        argv = ["demo", "--weights", str(good), "--single-weights", str(evil), "--out", out]
        argv += ["--frames", "8"]
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert evil.name in err and "never unpickles" in err, err
    assert not marker.exists()


@pytest.mark.parametrize("backbone", ["tiny", "hrnet_w32"])
def test_train_backbone_weights_refuse_pickled_code(
    tmp_path: Path, marker: Path, capsys: Any, backbone: str
) -> None:
    evil = _evil_files(tmp_path / "w", marker)["zip"]
    argv = train_argv(
        train_set(tmp_path / "ds"),
        tmp_path / "run",
        f"model.backbone={backbone}",
        f"model.backbone_weights={evil}",
    )
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert evil.name in err and "never unpickles" in err, err
    assert not marker.exists()


def test_train_resume_refuses_pickled_state(tmp_path: Path, marker: Path, capsys: Any) -> None:
    """A run folder whose checkpoint state (``*.state.pt``) carries code: resume refuses it."""
    from semapose.config import load_config
    from semapose.engine.checkpoint import save_weights
    from semapose.models.build import build_model

    ds, run = train_set(tmp_path / "ds"), tmp_path / "run"
    argv = train_argv(ds, run)
    cfg = load_config(TINY_CONFIG, argv[2:-3])
    ckpts = run / "checkpoints"
    save_weights(build_model(cfg), ckpts / "step_00000001.safetensors")
    torch.save({"batch_size": 2, "rng": Payload(marker)}, ckpts / "step_00000001.state.pt")
    record = {
        "name": "step_00000001",
        "weights": "checkpoints/step_00000001.safetensors",
        "state": "checkpoints/step_00000001.state.pt",
        "step": 1,
        "epoch": 0,
    }
    (run / "last.json").write_text(json.dumps(record))
    rc = main([*argv, "--resume"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "step_00000001.state.pt" in err and "expected a checkpoint state file" in err, err
    assert not marker.exists()


# ----------------------------------------------------------------------------- YAML


@pytest.mark.parametrize(
    "text",
    [
        "train: !!python/object/apply:os.system ['touch {marker}']\n",
        "train:\n  lr: !!python/object/apply:os.system ['touch {marker}']\n",
        "model: !!python/name:os.system\n",
    ],
)
def test_yaml_configs_never_construct_python_objects(
    tmp_path: Path, marker: Path, text: str
) -> None:
    from semapose.config import load_config

    cfg = tmp_path / "evil.yaml"
    cfg.write_text(text.format(marker=marker))
    with pytest.raises(ConfigError, match="evil.yaml"):
        load_config(cfg)
    with pytest.raises(ConfigError):
        load_config(TINY_CONFIG, [f"train.lr=!!python/object/apply:os.system ['touch {marker}']"])
    assert not marker.exists()


# ----------------------------------------------------------------------------- dataset root

ESCAPES = [
    "../outside.jpg",
    "images/../../outside.jpg",
    "images/val/../../../etc/passwd",
    "/etc/passwd",
    "..\\..\\outside.jpg",
    "C:\\Windows\\win.ini",
    "",
]


def _pt18(name: str) -> dict[str, Any]:
    kp = [v for i in range(17) for v in (10.0 + i, 5.0 + i, 1)]
    return {
        "images": [{"file_name": name, "id": 1, "nframes": 1, "is_labeled": True}],
        "annotations": [{"image_id": 1, "keypoints": kp, "bbox": [0, 0, 30, 40], "track_id": 0}],
    }


def _pt17(name: str) -> dict[str, Any]:
    point = {"id": [0], "x": [1.0], "y": [2.0], "is_visible": [1]}
    rect: dict[str, Any] = {"x1": [1], "y1": [2], "x2": [3], "y2": [4], "track_id": [0]}
    rect["annopoints"] = [{"point": [point]}]
    return {"annolist": [{"image": [{"name": name}], "annorect": [rect], "is_labeled": [1]}]}


def _coco(name: str) -> dict[str, Any]:
    kp = [v for i in range(17) for v in (10.0 + i, 5.0 + i, 2)]
    return {
        "images": [{"file_name": name, "id": 1, "width": 64, "height": 64}],
        "annotations": [{"image_id": 1, "category_id": 1, "keypoints": kp, "bbox": [0, 0, 30, 40]}],
        "categories": [{"id": 1, "name": "person"}],
    }


@pytest.mark.parametrize("name", ESCAPES)
@pytest.mark.parametrize("fmt", ["posetrack18", "posetrack21", "posetrack17", "coco"])
def test_image_paths_escaping_the_root_are_refused(tmp_path: Path, name: str, fmt: str) -> None:
    from semapose.data.coco import load_coco
    from semapose.data.posetrack import load_posetrack17, load_posetrack18, load_posetrack21

    readers = {
        "posetrack18": (load_posetrack18, _pt18),
        "posetrack21": (load_posetrack21, _pt18),
        "posetrack17": (load_posetrack17, _pt17),
        "coco": (load_coco, _coco),
    }
    reader, build = readers[fmt]
    root = tmp_path / "root"
    root.mkdir()
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(build(name)))
    with pytest.raises(InputError, match="ann.json") as info:
        reader(ann, root)
    assert "image" in str(info.value)


@pytest.mark.parametrize("fmt", ["posetrack18", "posetrack17", "coco"])
def test_image_paths_inside_the_root_load(tmp_path: Path, fmt: str) -> None:
    """The refusal is not over-eager: ``a/./b`` and ``a/../a/b`` stay inside the root."""
    from semapose.data.coco import load_coco
    from semapose.data.posetrack import load_posetrack17, load_posetrack18

    reader, build = {
        "posetrack18": (load_posetrack18, _pt18),
        "posetrack17": (load_posetrack17, _pt17),
        "coco": (load_coco, _coco),
    }[fmt]
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(build("images/./s/../s/00000001.jpg")))
    (record,) = reader(ann, tmp_path)
    assert tmp_path in record.image_path.parents
    assert ".." not in record.image_path.parts


# ----------------------------------------------------------------------------- source scan


def _sources() -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p in sorted(SRC.rglob("*.py"))]


def _calls(text: str, name: str) -> list[str]:
    """The argument text of each ``name(...)`` call (balanced parentheses)."""
    out = []
    for m in re.finditer(re.escape(name) + r"\(", text):
        depth, i = 1, m.end()
        while depth and i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        out.append(text[m.end() : i - 1])
    return out


def test_no_unsafe_deserialisation_in_the_sources() -> None:
    """Every ``torch.load`` says ``weights_only=True``; no pickle/yaml.load/allow_pickle."""
    sources = _sources()
    assert len(sources) > 20
    checked = 0
    for path, text in sources:
        for args in _calls(text, "torch.load"):
            assert "weights_only=True" in args, f"{path}: torch.load({args})"
            checked += 1
        code = "\n".join(line.split("#")[0] for line in text.splitlines())
        for bad in (
            r"\bpickle\.loads?\(",
            r"\byaml\.load\(",
            r"\byaml\.unsafe_load",
            r"\byaml\.(Unsafe|Full)?Loader\b",
            r"allow_pickle\s*=\s*True",
            r"\bdill\b",
            r"\bjoblib\.load",
        ):
            assert not re.search(bad, code), f"{path}: {bad}"
    assert checked >= 2  # the engine's state file and the checkpoint reader
