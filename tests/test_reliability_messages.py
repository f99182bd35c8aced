"""Round two of the red-team cases on messages: bounded values, escaped paths.

Every message of a :class:`~semapose.errors.SemaposeError` is one short line,
whatever the value or the path it shows (issue 18, "Messages" and "YAML").
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from semapose.cli import main
from semapose.errors import ConfigError, InputError, shown_path, shown_value


def _alias_bomb(levels: int) -> list[Any]:
    """What yaml.safe_load makes of a billion-laughs document: shared nested lists."""
    node: list[Any] = ["lol"] * 9
    for _ in range(levels):
        node = [node] * 9
    return node


def test_huge_integer_in_a_message_is_shortened() -> None:
    big = 7 * 10**5000  # str(big) raises ValueError on Python >= 3.11
    msg = str(ConfigError("cfg.yaml", "train.lr", "a number", big))
    assert len(msg) < 200, msg
    assert "5000 digits" in msg or "digits" in msg


def test_shared_nested_value_is_not_expanded() -> None:
    bomb = _alias_bomb(9)  # fully expanded: 9**10 strings, tens of GB of text
    t0 = time.perf_counter()
    msg = str(InputError("cfg.yaml", "train.lr", "a number", bomb))
    assert time.perf_counter() - t0 < 0.5
    assert len(msg) < 200, msg
    assert msg.startswith("cfg.yaml: train.lr: expected a number, got [")


def test_long_string_is_cut_with_an_ellipsis() -> None:
    msg = str(InputError(None, "--size", "WxH", "x" * 10_000))
    assert len(msg) < 120 and "..." in msg


@pytest.mark.parametrize(
    "value",
    [float("nan"), -1.5, "abc", None, [1, 2], {"a": 1}, b"\x00", 10**30],
)
def test_short_values_read_as_before(value: Any) -> None:
    assert shown_value(value) == repr(value)


@pytest.mark.parametrize(
    "name",
    ["clip\nsemapose predict: done.mp4", "red\x1b[31mclip.mp4", "bell\x07.mp4", "cr\rx.mp4"],
)
def test_control_characters_in_paths_are_escaped(name: str) -> None:
    msg = str(InputError(Path("/data") / name, "frame 3", "a readable image"))
    assert msg.isprintable(), repr(msg)
    assert shown_path(Path("/data") / name) in msg
    assert "\\n" in msg or "\\x1b" in msg or "\\x07" in msg or "\\r" in msg


def test_ordinary_paths_are_unchanged() -> None:
    name = "/data/vidéo 1/000342_mpii_test.json"
    assert shown_path(name) == name
    assert str(InputError(name, "x", "y")) == f"{name}: x: expected y"


@pytest.mark.parametrize("name", ["a\nb.mp4", "c\x1b[2Jd.mp4"])
def test_cli_prints_one_escaped_line_for_a_hostile_file_name(
    tmp_path: Path, capsys: Any, name: str
) -> None:
    video = tmp_path / name
    rc = main(["evaluate", "--gt", str(video), "--pred", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].isprintable(), repr(lines[0])
    assert "\x1b" not in err
