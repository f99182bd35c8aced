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


def test_predict_prints_hostile_input_names_escaped(tmp_path: Path, capsys: Any) -> None:
    """A folder of inputs, one named with a newline and an ANSI escape: every line that
    names it (progress on stdout, the failure list on stderr) shows it escaped."""
    pytest.importorskip("torch")
    from test_predict_helpers import make_video, save_checkpoint, tiny_cfg

    folder = tmp_path / "in"
    make_video(folder / "ok\x1b[2J.mp4", 2)
    (folder / "bad\nname.mp4").write_bytes(b"not a video")
    ckpt = save_checkpoint(tmp_path / "tiny.safetensors", tiny_cfg())
    items = '[{"image_id": 0, "bbox": [1, 1, 10, 20], "score": 0.9}]'
    boxes = tmp_path / "boxes"
    boxes.mkdir()
    for name in ("ok\x1b[2J", "bad\nname"):
        (boxes / f"{name}.json").write_text(items)
    argv = ["predict", str(folder), "--out", str(tmp_path / "out"), "--weights", str(ckpt)]
    rc = main([*argv, "--boxes", str(boxes), "--quiet", "--no-video"])
    cap = capsys.readouterr()
    assert rc == 2
    for text in (cap.out, cap.err):
        assert "\x1b" not in text
        assert all(line.isprintable() for line in text.splitlines()), text
    assert "ok\\x1b[2J" in cap.out and "bad\\nname" in cap.err
