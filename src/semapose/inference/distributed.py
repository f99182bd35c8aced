"""Sharing a collection of videos among ``torchrun`` processes.

Prediction needs no collective communication: each process reads ``RANK`` and
``WORLD_SIZE`` (set by ``torchrun`` on every node), takes videos
``rank, rank + world, rank + 2 world, ...`` of the sorted list, runs them on
``cuda:LOCAL_RANK`` (or the CPU) and writes each output atomically. No process
group is joined, so a failed video or a slow node never blocks the others, and
the same command works for one process, several GPUs and several nodes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

from semapose.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True)
class RankInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0


def rank_info() -> RankInfo:
    """This process's place from the torchrun environment (single process without it).

    The one reader of ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` (training joins a process
    group with it too: :func:`semapose.engine.distributed.init_distributed`)."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as exc:
        raise ConfigError(
            "<environment>", "RANK/WORLD_SIZE/LOCAL_RANK", "integers", str(exc)
        ) from exc
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ConfigError(
            "<environment>", "RANK/WORLD_SIZE", "0 <= RANK < WORLD_SIZE", f"{rank}/{world}"
        )
    return RankInfo(rank, world, local)


def shard(items: list[T], info: RankInfo) -> list[T]:
    """Item ``i`` goes to rank ``i % world_size``."""
    return items[info.rank :: info.world_size]


__all__ = ["RankInfo", "rank_info", "shard"]
