"""torch.distributed helpers: one code path for 1 process, multi-GPU and multi-node.

Processes are started by ``torchrun`` (never by a home-made launcher), which sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_distributed` then joins the group with ``init_method="env://"``,
the ``nccl`` backend on GPU and ``gloo`` on CPU. Without those variables the run
is a plain single process and every collective below is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from semapose.device import resolve_device


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device_name: str = "auto", option: str = "train.device") -> DistInfo:
    """Join the torchrun process group if there is one; return this process's place.

    ``option`` names where the device value came from, for the error message."""
    from semapose.inference.distributed import rank_info

    env = rank_info()
    world_size, rank, local_rank = env.world_size, env.rank, env.local_rank
    device = resolve_device(device_name, option, local_rank)
    if world_size > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, init_method="env://")
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def current_dist_info(device: torch.device) -> DistInfo:
    """This process's place in the process group already joined (one process without
    one), its model on ``device``."""
    if not is_dist():
        return DistInfo(rank=0, world_size=1, local_rank=0, device=device)
    from semapose.inference.distributed import rank_info

    return DistInfo(
        rank=dist.get_rank(),
        world_size=dist.get_world_size(),
        local_rank=rank_info().local_rank,
        device=device,
    )


def cleanup() -> None:
    """Leave the process group. Under gloo the ranks first meet (a monitored barrier, 60 s):
    a rank that tears the group down while a peer's last message is still in flight makes
    that peer abort at exit ('terminate called without an active exception', seen under
    load). On an error path, where a peer is gone, the barrier fails and the group is
    destroyed anyway."""
    if dist.is_available() and dist.is_initialized():
        if dist.get_world_size() > 1 and dist.get_backend() == "gloo":
            import contextlib
            from datetime import timedelta

            with contextlib.suppress(RuntimeError):
                dist.monitored_barrier(timeout=timedelta(seconds=60))
        dist.destroy_process_group()


def is_dist() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    if is_dist():
        dist.barrier()


def all_reduce_mean(values: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over all ranks (a copy; the input is untouched)."""
    out = values.detach().clone()
    if is_dist():
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        out /= dist.get_world_size()
    return out


def all_reduce_max(values: torch.Tensor) -> torch.Tensor:
    out = values.detach().clone()
    if is_dist():
        dist.all_reduce(out, op=dist.ReduceOp.MAX)
    return out


def all_gather_objects(obj: Any) -> list[Any]:
    """Every rank's ``obj`` in rank order (a one-element list without a group)."""
    if not is_dist():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """``obj`` from rank ``src`` on every rank."""
    if not is_dist():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def wrap_ddp(module: torch.nn.Module, info: DistInfo, find_unused: bool) -> torch.nn.Module:
    """``module`` in DistributedDataParallel under torchrun (gradients averaged over the
    ranks), else itself; the one DDP wrapper of every training."""
    if not info.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [info.device.index] if info.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside a DistributedDataParallel wrapper."""
    from torch.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model
