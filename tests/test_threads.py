"""CPU threads: the default count, the OpenMP wait policy, and results that do not depend
on the thread count (semapose.threads)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from semapose.errors import InputError
from semapose.threads import check_threads, default_threads, prefer_passive_wait

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("cores", "load", "expected"),
    [(2, 0.0, 2), (2, 0.4, 2), (2, 1.0, 1), (2, 8.8, 1), (8, 3.2, 5), (1, 0.0, 1), (16, 0.6, 15)],
)
def test_default_threads_leave_the_busy_cores_to_others(cores, load, expected) -> None:
    assert default_threads(cores, load) == expected


def test_default_threads_reads_this_machine() -> None:
    assert 1 <= default_threads() <= (len(__import__("os").sched_getaffinity(0)))


@pytest.mark.parametrize("bad", [-1, 1025, 2.5, True, "2"])
def test_bad_thread_counts_name_the_option(bad) -> None:
    with pytest.raises(InputError, match="threads"):
        check_threads(bad, "threads")
    assert check_threads(None) == 0 and check_threads(3) == 3


def test_passive_wait_is_a_default_the_user_can_override(monkeypatch) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    prefer_passive_wait()
    import os

    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    prefer_passive_wait()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_importing_semapose_sets_passive_wait_without_importing_torch() -> None:
    code = (
        "import os, sys; os.environ.pop('OMP_WAIT_POLICY', None); import semapose; "
        "print(os.environ.get('OMP_WAIT_POLICY'), 'torch' in sys.modules)"
    )
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.split() == ["PASSIVE", "False"], out.stderr


torch = pytest.importorskip("torch")


def _with_threads(n: int, fn):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        return fn()
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("shape", [(1, 384, 16, 16), (3, 64, 33, 17)])
def test_convolutions_give_the_same_bits_with_any_thread_count(shape) -> None:
    """The root cause of thread-dependent ids: ATen runs a 1x1 convolution on its own GEMM
    with one thread and on oneDNN with more; routed through oneDNN it is bit-identical."""
    from semapose.threads import thread_invariant_convolutions

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(shape[1], 48, 1),
        torch.nn.Conv2d(48, 48, 3, padding=1, groups=48),
        torch.nn.Conv2d(48, 24, 1),
    ).eval()
    reference = [layer.forward for layer in net]
    thread_invariant_convolutions(net)
    thread_invariant_convolutions(net)  # idempotent
    x = torch.randn(shape)

    def run():
        with torch.inference_mode():
            return net(x).clone()

    outs = [_with_threads(n, run) for n in (1, 2, 3)]
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])
    with torch.no_grad():  # same numbers as PyTorch's own path, up to summation order
        plain = x
        for f in reference:
            plain = f(plain)
    torch.testing.assert_close(outs[0], plain, atol=1e-5, rtol=1e-5)
    y = net(x.requires_grad_())  # training keeps the layer's own forward (and gradients)
    y.sum().backward()
    assert x.grad is not None


@pytest.mark.slow
def test_the_same_ids_and_keypoints_with_1_and_2_threads(shared_data: Path) -> None:
    """Default model and detector on a real clip: 1 and 2 threads give the same track ids
    in every frame and keypoints within 1e-3 px."""
    clip = shared_data / "videos" / "two_people_72f.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} is missing")
    from itertools import islice

    from semapose import PoseEstimator

    def run(threads: int) -> list:
        est = PoseEstimator.from_pretrained(threads=threads)
        assert est.threads == threads == torch.get_num_threads()
        return [
            {p.track_id: (p.keypoints.copy(), p.scores.copy()) for p in f.persons}
            for f in islice(est.predict(clip), 40)
        ]

    before = torch.get_num_threads()
    try:
        one, two = run(1), run(2)
    finally:
        torch.set_num_threads(before)
    assert any(one), "nobody tracked"
    for a, b in zip(one, two, strict=True):
        assert a.keys() == b.keys()
        for tid in a:
            np.testing.assert_allclose(a[tid][0], b[tid][0], atol=1e-3, rtol=0)
            np.testing.assert_allclose(a[tid][1], b[tid][1], atol=1e-3, rtol=0)


@pytest.mark.parametrize("command", ["predict", "fit"])
def test_threads_option_of_predict_and_fit(tmp_path: Path, capsys, command: str) -> None:
    from semapose.cli import main

    before = torch.get_num_threads()
    try:
        assert (
            main(
                [
                    command,
                    str(tmp_path / "missing"),
                    "--out",
                    str(tmp_path / "o"),
                    "--threads",
                    "-1",
                ]
            )
            == 2
        )
        err = capsys.readouterr().err
        assert "--threads" in err and "[0, 1024]" in err and len(err.strip().splitlines()) == 1
        # a valid count is set before the (missing) input is read
        assert (
            main(
                [command, str(tmp_path / "missing"), "--out", str(tmp_path / "o"), "--threads", "1"]
            )
            == 2
        )
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_api_threads(monkeypatch) -> None:
    from semapose.inference import api

    class _Predictor:
        pass

    before = torch.get_num_threads()
    try:
        assert api.PoseEstimator(_Predictor(), threads=2).threads == 2 == torch.get_num_threads()
        torch.set_num_threads(1)
        assert api.PoseEstimator(_Predictor()).threads == 1  # None: torch's setting stays
        with pytest.raises(InputError, match="threads"):
            api.PoseEstimator(_Predictor(), threads=-3)
    finally:
        torch.set_num_threads(before)
