from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from semapose.config import Config, dump_config, from_dict, load_config, to_dict
from semapose.errors import ConfigError, SemaposeError


def test_defaults_roundtrip_through_yaml(tmp_path: Path) -> None:
    cfg = load_config(None, ["train.lr=3e-4", "data.offsets=[-1,1]", "model.backbone=hrnet_w32"])
    assert cfg.train.lr == pytest.approx(3e-4)
    assert cfg.data.offsets == [-1, 1]
    assert cfg.num_frames == 3
    path = tmp_path / "c.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


@pytest.mark.parametrize(
    ("override", "key", "expected"),
    [
        ("train.lrr=1", "train.lrr", "known keys"),
        ("train.lr=abc", "train.lr", "a number"),
        ("train.epochs=1.5", "train.epochs", "an integer"),
        ("model.backbone=resnet", "model.backbone", "one of tiny"),
        ("data.flip_prob=2", "data.flip_prob", "[0.0, 1.0]"),
        ("data.offsets=[0,1]", "data.offsets", "non-zero"),
        ("data.image_size=[256]", "data.image_size", "2 items"),
        ("train.amp=maybe", "train.amp", "true or false"),
        ("nosection.x=1", "nosection", "known keys"),
    ],
)
def test_bad_values_name_the_key(override: str, key: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    msg = str(info.value)
    assert key in msg and expected in msg


def test_bad_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("train:\n  lr: 0.1\n  bogus: 3\n")
    with pytest.raises(ConfigError, match=r"unknown.yaml: train.bogus"):
        load_config(unknown)


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("train: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError):
        load_config(evil)


def test_presets_in_configs_folder_load() -> None:
    root = Path(__file__).resolve().parents[1] / "configs"
    presets = sorted(root.glob("*.yaml"))
    for p in presets:
        assert isinstance(load_config(p), Config), p


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["data", "model", "loss", "train", "test", "other"]),
        st.one_of(
            _values,
            st.dictionaries(
                st.sampled_from(["lr", "epochs", "offsets", "backbone", "amp", "image_size", "x"]),
                _values,
                max_size=4,
            ),
        ),
        max_size=4,
    )
)
def test_fuzz_config_ends_in_own_error_or_valid(raw: dict) -> None:
    try:
        cfg = from_dict(Config, raw, "<fuzz>")
    except SemaposeError:
        return
    assert from_dict(Config, yaml.safe_load(dump_config(cfg)), "<rt>") == cfg
    assert to_dict(cfg)["train"]["lr"] == cfg.train.lr
