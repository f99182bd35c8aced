"""CPU threads: the default count, OpenMP's wait policy, results independent of both.

Three things decide how fast and how reproducible a CPU run is when other processes
share the cores (docs/predict.md, "Threads"; measured by benchmarks/threads.py):

* **Wait policy.** PyTorch's OpenMP threads spin for a while before they sleep when
  they wait for each other (libgomp's default); on a loaded machine a spinning thread holds a
  core another process needs, and every parallel region waits for the slowest thread:
  2 threads become several times slower than 1. :func:`prefer_passive_wait` sets
  ``OMP_WAIT_POLICY=PASSIVE`` (waiting threads sleep) unless the user set it. OpenMP
  reads it once, when torch is imported, so ``semapose.cli`` and ``import semapose``
  call it before torch is imported (an API user who imported torch first keeps
  torch's setting).
* **Thread count.** :func:`default_threads`: the physical cores this process may use
  (``os.sched_getaffinity``, hyper-threads counted once) minus the load other
  processes already put on them (the 1-minute load average), at least 1.
  ``--threads N`` / ``threads=N`` overrides it; :func:`set_threads` applies it.
* **Thread-independent numbers.** PyTorch runs a 1x1 convolution on its own GEMM
  with one thread and on oneDNN with more (a speed heuristic in ATen's
  convolution dispatch): the two sum in different orders, so the same crop gives
  BlazePose features up to ~5e-5 apart with 1 and 2 threads, and a tracking decision near
  a threshold (pose-present score 0.5, a joint score 0.3 in a keypoint box) can
  fall the other way, which changes ids. :func:`thread_invariant_convolutions`
  makes every float32 CPU ``Conv2d`` of a module take oneDNN's path (channels-last)
  whatever the thread count, in inference only (no gradients); oneDNN's forward
  convolution does not split its sums across threads, so 1, 2, 3 and 4 threads give
  the same backbone features bit for bit (element-wise ops at the end may differ in
  the last bit with thread counts that do not divide the tensors evenly; those
  numbers are rounded to 3 decimals before any decision).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: the environment variable OpenMP reads for its wait policy
WAIT_POLICY_ENV = "OMP_WAIT_POLICY"


#: help of the ``--threads`` option (predict, fit)
THREADS_HELP = (
    "CPU threads for the model (default 0: the free cores, i.e. usable cores minus the "
    "1-minute load average, at least 1; results do not depend on it)"
)


def check_threads(value: int | None, option: str = "--threads") -> int:
    """``value`` as a thread count (0 or None: the default), or an InputError naming ``option``."""
    from semapose.errors import InputError

    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1024:
        raise InputError(None, option, "an integer in [0, 1024] (0: the default)", value)
    return value


def prefer_passive_wait() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` unless set (effective only before torch is imported)."""
    os.environ.setdefault(WAIT_POLICY_ENV, "PASSIVE")


def usable_cores() -> int:
    """Physical cores this process may run on: its CPU affinity, hyper-threads of one core
    counted once (Linux sysfs topology; elsewhere the logical count)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)
    cores = set()
    for cpu in cpus:
        topology = f"/sys/devices/system/cpu/cpu{cpu}/topology"
        try:
            package = Path(topology, "physical_package_id").read_text().strip()
            cores.add((package, Path(topology, "core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))
    return max(1, len(cores))


def default_threads(cores: int | None = None, load: float | None = None) -> int:
    """The default thread count: usable cores minus the cores other processes keep busy.

    ``load`` (default: the 1-minute load average) counts the runnable processes; taken
    before this process gets busy, its rounded value is the cores others keep busy.
    """
    cores = usable_cores() if cores is None else int(cores)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            load = 0.0
    busy = max(0, int(load + 0.5))
    return max(1, min(cores, cores - busy))


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads: ``threads`` (0 or None: :func:`default_threads`).
    Returns the count set."""
    import torch

    n = int(threads) if threads else default_threads()
    torch.set_num_threads(n)
    return n


def _onednn_forward(conv: Any, x: Any) -> Any:
    import torch

    if (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.dim() == 4
        and not torch.is_grad_enabled()
        and conv.padding_mode == "zeros"
        and not isinstance(conv.padding, str)
        and not torch.jit.is_tracing()
        and not torch.jit.is_scripting()
        and not torch.compiler.is_compiling()  # torch.export / ONNX (dynamo) see the plain layer
        and torch.backends.mkldnn.is_available()
    ):
        x = x.contiguous(memory_format=torch.channels_last)
        return torch.mkldnn_convolution(
            x, conv.weight, conv.bias, conv.padding, conv.stride, conv.dilation, conv.groups
        )
    return type(conv).forward(conv, x)


def thread_invariant_convolutions(module: Any) -> Any:
    """Route every ``torch.nn.Conv2d`` of ``module`` through oneDNN in inference (see the
    module docstring); idempotent, returns ``module``. Training (gradients on), tracing,
    non-float32 and non-CPU inputs keep the layer's own forward."""
    import types

    import torch

    if not isinstance(module, torch.nn.Module):
        return module
    for layer in module.modules():
        if type(layer) is torch.nn.Conv2d and "forward" not in vars(layer):
            layer.forward = types.MethodType(_onednn_forward, layer)  # type: ignore[method-assign]
    return module


__all__ = [
    "THREADS_HELP",
    "WAIT_POLICY_ENV",
    "check_threads",
    "default_threads",
    "prefer_passive_wait",
    "set_threads",
    "thread_invariant_convolutions",
    "usable_cores",
]
