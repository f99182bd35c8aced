"""``predict`` on SIGTERM (issue 24): the state is saved before the process ends with
status 143, so ``--resume`` continues from the frame it reached (before: exit 143 and
nothing saved since the last periodic state)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_helpers import REPO, predict_argv, predict_inputs

pytest.importorskip("torch")


def test_predict_saves_its_state_on_sigterm(tmp_path: Path) -> None:
    from semapose.cli import main

    work = predict_inputs(tmp_path, 12, persons=1)
    argv = predict_argv(
        work["video"], tmp_path / "out", work["ckpt"], "--boxes", str(work["boxes"]),
        "--checkpoint-every", "1000", "--threads", "1",
    )  # fmt: skip
    code = textwrap.dedent(
        """
        import json, os, signal, sys
        from semapose.inference.pipeline import TemporalRunner
        from semapose.cli import main
        push = TemporalRunner.push_frame
        def push_then_term(self, index, *a, **k):
            if index == 7:
                os.kill(os.getpid(), signal.SIGTERM)
            return push(self, index, *a, **k)
        TemporalRunner.push_frame = push_then_term
        sys.exit(main(json.loads(sys.argv[1])))
        """
    )
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO / 'tests'}", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    state = json.loads((tmp_path / "out" / ".partial" / "walk" / "state.json").read_text())
    assert state["next_frame"] == 8  # the frame it was in is finished, then saved
    assert main([*argv, "--resume"]) == 0
    assert (tmp_path / "out" / "posetrack" / "walk.json").is_file()
