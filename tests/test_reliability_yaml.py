"""Hostile YAML configs (issue 18): alias bombs, deep nesting, huge integers, big files.

Each is a one-line ConfigError naming the file (and the line), fast and in bounded
memory; ordinary anchors and aliases keep working.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from semapose.config import load_config
from semapose.errors import ConfigError
from semapose.io.yamlio import MAX_DEPTH, load_yaml


def _bomb(levels: int) -> str:
    """A billion-laughs document under a known key (train.lr): 9**levels strings."""
    parts = ["&a0 [" + ",".join(['"lol"'] * 9) + "]"]
    parts += [f"&a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "train:\n  lr: [" + ", ".join(parts) + "]\n"


def _load_file(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "cfg.yaml"
    path.write_text(text)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert time.perf_counter() - t0 < 5
    msg = str(info.value)
    assert msg.startswith(str(path)) and "\n" not in msg and len(msg) < 300, msg
    return info.value


@pytest.mark.parametrize("levels", [8, 9, 12])
def test_alias_bomb_is_refused(tmp_path: Path, levels: int) -> None:
    text = _bomb(levels)
    assert len(text) < 800
    err = _load_file(tmp_path, text)
    assert "aliases expanded" in str(err) and "line" in str(err)


def test_alias_bomb_in_a_command_line_override() -> None:
    names = "abcdefg"
    parts = ["&a [" + ",".join(["1"] * 9) + "]"]
    parts += [
        f"&{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in zip(names, names[1:], strict=False)
    ]
    with pytest.raises(ConfigError, match="aliases expanded") as info:
        load_config(None, ["train.lr=[" + ", ".join(parts) + "]"])
    assert str(info.value).startswith("<command line>: train.lr:")


@pytest.mark.parametrize("opener", ["[", "{a: "])
def test_deep_nesting_is_refused(tmp_path: Path, opener: str) -> None:
    err = _load_file(tmp_path, "train:\n  lr: " + opener * 50_000 + "\n")
    assert f"at most {MAX_DEPTH} levels of nesting" in str(err)


def test_huge_integer_is_refused(tmp_path: Path) -> None:
    err = _load_file(tmp_path, "train:\n  max_steps: " + "9" * 5000 + "\n")
    assert "digits" in str(err) and "line 2" in str(err)


def test_huge_file_is_refused(tmp_path: Path) -> None:
    err = _load_file(tmp_path, "# " + "x" * (5 * 2**20) + "\n")
    assert "MiB" in str(err)


def test_ordinary_anchors_and_big_numbers_still_load(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text(
        "data:\n  image_size: &size [192, 256]\n  offsets: [-1, 1]\n"
        "train:\n  lr: 1.0e-3\n  max_steps: 1000000000\n"
    )
    cfg = load_config(path)
    assert list(cfg.data.image_size) == [192, 256]
    assert cfg.train.max_steps == 10**9
    assert load_yaml("x: " + "9" * 100, "t.yaml") == {"x": int("9" * 100)}


@pytest.mark.parametrize(
    "text",
    ["a: [1, [2, [3]]]", "a: &x {b: 1}\nc: *x", "- 1\n- 2", "x: 0x1F", "x: 1_000", "x: -0o17"],
)
def test_load_yaml_matches_safe_load_on_ordinary_documents(text: str) -> None:
    import yaml

    assert load_yaml(text, "t.yaml") == yaml.safe_load(text)


def test_yaml_never_builds_python_objects() -> None:
    with pytest.raises(Exception) as info:
        load_yaml("!!python/object/apply:os.system ['true']", "t.yaml")
    assert "python/object" in str(info.value)


def _deep_list(n: int) -> Any:
    return "[" * n + "]" * n


def test_nesting_up_to_the_limit_loads() -> None:
    value = load_yaml(_deep_list(MAX_DEPTH - 1), "t.yaml")
    for _ in range(MAX_DEPTH - 2):
        value = value[0]
    assert value == []
