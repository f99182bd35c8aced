"""Two runs on one output: the second is refused while the first lives (issue 18).

A lock held by a real second process (a subprocess) refuses ``predict`` and
``train`` with exit 2 naming the holder's pid and command; its partial state is
left alone; once the holder is killed with SIGKILL the OS has released the lock
and the next run goes ahead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli_helpers import predict_argv, predict_inputs, train_argv, train_set
from semapose.errors import SemaposeError
from semapose.io.lock import FolderInUseError, lock_file, output_lock

HOLD = """
import sys, time
from semapose.io.lock import output_lock
with output_lock(sys.argv[1], "a test folder"):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder() -> Iterator[Any]:
    """Start a process holding the lock on a given path; killed (SIGKILL) at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(path: Path) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(path), "--marker-arg"],
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _kill(proc: subprocess.Popen[str]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_second_holder_is_refused_naming_the_first(tmp_path: Path, holder: Any) -> None:
    path = lock_file(tmp_path / "out")
    proc = holder(path)
    with pytest.raises(FolderInUseError) as info, output_lock(path):
        pass
    msg = str(info.value)
    assert f"process {proc.pid}" in msg and "--marker-arg" in msg, msg
    assert str(tmp_path / "out") in msg and "expected" in msg
    assert isinstance(info.value, SemaposeError)
    _kill(proc)  # released by the OS, the stale file is reused
    assert path.exists()
    with output_lock(path):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert not path.exists()


def test_lock_is_exclusive_inside_one_process_too(tmp_path: Path) -> None:
    path = lock_file(tmp_path, "clip")
    held = output_lock(path)
    held.__enter__()
    with pytest.raises(FolderInUseError, match=f"process {os.getpid()}"), output_lock(path):
        pass
    held.__exit__(None, None, None)
    with output_lock(path):  # released at the end of the block
        pass


def test_a_release_racing_an_acquire_never_gives_two_holders(tmp_path: Path) -> None:
    """Many processes taking and releasing one lock: never two inside at once."""
    path = lock_file(tmp_path)
    inside = tmp_path / "inside"
    code = """
import os, sys, time
from pathlib import Path
from semapose.io.lock import FolderInUseError, output_lock
path, inside = Path(sys.argv[1]), Path(sys.argv[2])
end, held = time.time() + 1.5, 0
while time.time() < end:
    try:
        with output_lock(path):
            fd = os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if two inside
            os.close(fd); held += 1
            os.unlink(inside)
    except FolderInUseError:
        pass
print(held)
"""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path), str(inside)], stdout=subprocess.PIPE
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum(int(o[0]) for o in outs) > 0


# ----------------------------------------------------------------------------- predict


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("torch")
    return predict_inputs(tmp_path_factory.mktemp("lock"), 4)


def _predict(work: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return predict_argv(work["video"], out, work["ckpt"], "--boxes", str(work["boxes"]), *extra)


@pytest.mark.parametrize("resume", [False, True])
def test_predict_on_an_output_in_use_exits_2_and_keeps_the_other_runs_state(
    work: dict[str, Path], tmp_path: Path, holder: Any, capsys: Any, resume: bool
) -> None:
    from semapose.cli import main

    out = tmp_path / "out"
    partial = out / ".partial" / "walk"
    partial.mkdir(parents=True)
    (partial / "results.jsonl").write_text('{"the other run": 1}\n')
    proc = holder(lock_file(out, "walk"))
    rc = main(_predict(work, out, *(["--resume"] if resume else [])))
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"process {proc.pid}" in lines[0], err
    assert (partial / "results.jsonl").read_text() == '{"the other run": 1}\n'
    assert not (out / "posetrack" / "walk.json").exists()
    _kill(proc)
    assert main(_predict(work, out)) == 0
    assert (out / "posetrack" / "walk.json").is_file()
    assert not lock_file(out, "walk").exists()


def test_predict_of_another_input_in_the_same_output_is_not_blocked(
    work: dict[str, Path], tmp_path: Path, holder: Any
) -> None:
    from semapose.cli import main

    out = tmp_path / "out"
    holder(lock_file(out, "another_clip"))
    assert main(_predict(work, out)) == 0


# ----------------------------------------------------------------------------- train


def test_training_in_a_folder_in_use_exits_2_and_leaves_its_log(
    tmp_path: Path, holder: Any, capsys: Any
) -> None:
    pytest.importorskip("torch")
    from semapose.cli import main

    ds = train_set(tmp_path / "ds")
    run = tmp_path / "run"
    run.mkdir()
    (run / "log.jsonl").write_text('{"kind": "train", "step": 1}\n')
    proc = holder(lock_file(run))
    argv = train_argv(ds, run)
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"process {proc.pid}" in err and str(run) in err
    assert (run / "log.jsonl").read_text() == '{"kind": "train", "step": 1}\n'
    _kill(proc)
    t0 = time.perf_counter()
    assert main(argv) == 0
    assert time.perf_counter() - t0 < 120
    assert len((run / "log.jsonl").read_text().splitlines()) >= 1
    assert not lock_file(run).exists()


def test_an_unwritable_output_names_the_folder_not_the_lock_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    def refuse(path: Any, *args: Any) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(PermissionError) as info, output_lock(lock_file(tmp_path / "out", "x")):
        pass
    assert info.value.filename == str(tmp_path / "out")
