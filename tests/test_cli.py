from __future__ import annotations

import subprocess
import sys

import pytest

from semapose.cli import COMMANDS, main


def test_help_lists_every_command_with_purpose(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_no_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2


def test_console_script_runs_as_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "semapose.cli", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert "semapose" in proc.stdout


def test_import_is_light() -> None:
    """`import semapose` and the CLI parser must not import torch (fast --help)."""
    code = "import sys, semapose.cli as c; c.build_parser(); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
