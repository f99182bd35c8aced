"""Parameter and multiply-add counts, in total and per sub-module.

``count_flops`` reports **multiply-adds** (MACs) of convolutions, transposed
convolutions, linear layers, matrix products and attention, the quantity the pose
literature calls "FLOPs" (e.g. HRNet-W32 at 256x192: 7.1 G). Element-wise work
(BN, activations, additions, interpolation) is not counted. Counting runs one
forward pass under :class:`torch.utils.flop_counter.FlopCounterMode`, with a formula
added for CPU scaled-dot-product attention, which that mode does not count itself.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["count_flops", "count_params", "flops_by_module", "params_by_module"]


def _sdpa_flops(
    query_shape: Any, key_shape: Any, value_shape: Any, *args: Any, **kwargs: Any
) -> int:
    """2 * (QK^T + AV) multiply-adds, as FlopCounterMode counts (2 FLOPs per MAC)."""
    *batch, lq, d = query_shape
    lk = key_shape[-2]
    dv = value_shape[-1]
    b = 1
    for s in batch:
        b *= int(s)
    return 2 * b * lq * lk * (d + dv)


def _custom_mapping() -> dict[Any, Any]:
    aten = torch.ops.aten
    mapping: dict[Any, Any] = {}
    for name in ("_scaled_dot_product_flash_attention_for_cpu",):
        op = getattr(aten, name, None)
        if op is not None:
            mapping[op] = _sdpa_flops
    return mapping


def _run_counter(module: nn.Module, inputs: tuple[Any, ...], fake: bool) -> FlopCounterMode:
    """One eval-mode forward under the counter; ``fake`` runs it on shapes only."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    counter = FlopCounterMode(display=False, custom_mapping=_custom_mapping())
    was_training = module.training
    module.eval()
    try:
        with contextlib.ExitStack() as stack:
            if fake:  # no arithmetic: shapes flow through, the counter sees every op
                stack.enter_context(FakeTensorMode(allow_non_fake_inputs=True))
            stack.enter_context(torch.no_grad())
            stack.enter_context(counter)
            module(*inputs)
    finally:
        module.train(was_training)
    return counter


def count_flops(module: nn.Module, *inputs: Any, fake: bool = True) -> int:
    """Multiply-adds of one eval-mode forward ``module(*inputs)``.

    With ``fake=True`` (default) the forward runs on fake tensors (shapes only), which
    is fast; ``fake=False`` runs it for real (needed for data-dependent modules).
    """
    return int(_run_counter(module, inputs, fake).get_total_flops()) // 2


def flops_by_module(
    module: nn.Module, *inputs: Any, depth: int = 1, fake: bool = True
) -> dict[str, int]:
    """Multiply-adds per sub-module up to ``depth`` levels below the root (``""`` = total).

    Keys are dotted sub-module names as in ``named_modules()`` (e.g. ``backbone``,
    ``head``, ``temporal.encoder``).
    """
    counter = _run_counter(module, inputs, fake)
    root = type(module).__name__
    out: dict[str, int] = {"": int(counter.get_total_flops()) // 2}
    for key, per_op in counter.get_flop_counts().items():
        if not key.startswith(root + "."):
            continue  # the root itself and "Global" are the total
        name = key[len(root) + 1 :]
        if name.count(".") < depth:
            out[name] = int(sum(per_op.values())) // 2
    return out


def count_params(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once)."""
    seen: set[int] = set()
    total = 0
    for p in module.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def params_by_module(module: nn.Module, depth: int = 1) -> dict[str, int]:
    """Parameters per sub-module up to ``depth`` levels (``""`` = total)."""
    out: dict[str, int] = {"": count_params(module)}
    for name, sub in module.named_modules():
        if name and name.count(".") < depth:
            out[name] = count_params(sub)
    return out
