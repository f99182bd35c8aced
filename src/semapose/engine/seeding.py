"""Determinism that survives kill + resume and does not depend on the number of workers.

* The sample order of epoch ``e`` is a permutation seeded by ``(seed, e)``;
  :class:`ResumableDistributedSampler` deals it out like
  :class:`torch.utils.data.DistributedSampler` (rank ``r`` takes every
  ``world``-th index) and can skip the samples already consumed before a resume.
  With a global batch ``G = world * b`` the union of the ranks' batches at step
  ``s`` is exactly ``perm[s*G:(s+1)*G]``, the batch a single process would see.
* Every sample's augmentation is drawn after re-seeding python/numpy/torch from
  ``(seed, epoch, index)`` (:class:`SeededDataset`), so it is the same whichever
  worker or rank loads it and whether or not the run was resumed.
* The model's own randomness (masking, drop-path) is re-seeded at every step from
  ``(seed, epoch, step, rank)`` (``trainer.LabeledClips.step_seed``; the loop calls
  :func:`seed_all` with it).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed that is a pure function of ``parts`` (stable across runs and hosts)."""
    text = "/".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") & ((1 << 63) - 1)


def seed_all(seed: int) -> None:
    """Seed python, numpy and torch (CPU and every GPU) from one integer."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """RNG states of python, numpy and torch as plain data (saved in the sidecar)."""
    name, keys, pos, has_gauss, gauss = np.random.get_state()  # type: ignore[misc]
    state: dict[str, Any] = {
        "python": _to_plain(random.getstate()),
        "numpy": [
            str(name),
            torch.from_numpy(np.asarray(keys).astype(np.int64)),
            int(pos),
            int(has_gauss),
            float(gauss),
        ],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    name, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state(
        (name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(gauss))
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_plain(obj: Any) -> Any:
    if isinstance(obj, tuple | list):
        return [_to_plain(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj


class ResumableDistributedSampler(DistributedSampler):
    """DistributedSampler with a per-epoch sample budget and a resume position.

    ``samples_per_epoch`` (0 = the whole dataset) takes the first samples of each
    epoch's permutation, so short epochs still see the whole dataset over time.
    The number of samples per rank is rounded down to a multiple of the local
    batch so every optimisation step sees a full global batch.
    """

    def __init__(
        self,
        dataset_len: int,
        *,
        num_replicas: int,
        rank: int,
        local_batch: int,
        seed: int,
        shuffle: bool = True,
        samples_per_epoch: int = 0,
        drop_last: bool = True,
    ) -> None:
        self.dataset_len = int(dataset_len)
        total = self.dataset_len
        if samples_per_epoch > 0:
            total = min(total, samples_per_epoch)
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.seed = seed
        self.shuffle = shuffle
        self.local_batch = local_batch
        self.drop_last = drop_last
        per_rank = total // num_replicas if drop_last else -(-total // num_replicas)
        if drop_last:
            per_rank -= per_rank % local_batch
        self.num_samples = per_rank
        self.total_size = per_rank * num_replicas
        self.start = 0

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.num_samples // self.local_batch)

    def set_start(self, local_samples: int) -> None:
        """Skip the first ``local_samples`` of this rank's share of the current epoch."""
        self.start = max(0, min(local_samples, self.num_samples))

    def permutation(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(derive_seed(self.seed, "order", self.epoch))
            order = torch.randperm(self.dataset_len, generator=g).tolist()
        else:
            order = list(range(self.dataset_len))
        if self.total_size > len(order):  # pad (only without drop_last)
            order += order[: self.total_size - len(order)]
        return order[: self.total_size]

    def __iter__(self) -> Iterator[int]:
        mine = self.permutation()[self.rank : self.total_size : self.num_replicas]
        return iter(mine[self.start :])

    def __len__(self) -> int:
        return self.num_samples - self.start


class SeededDataset(Dataset):
    """Wrap a dataset so item ``i`` of epoch ``e`` is drawn from generators seeded by (seed, e, i).

    The wrapped dataset may use python ``random``, ``numpy.random`` or torch's
    global generator; if it has a ``set_rng`` method (``set_rng(np.random.Generator)``)
    it receives a fresh generator per item too.
    """

    def __init__(self, dataset: Any, seed: int) -> None:
        self.dataset = dataset
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        s = derive_seed(self.seed, "sample", self.epoch, index)
        seed_all(s)
        if hasattr(self.dataset, "set_rng"):
            self.dataset.set_rng(np.random.default_rng(s))
        return self.dataset[index]


def worker_init(worker_id: int) -> None:
    """DataLoader worker seeding; the DataLoader's own base seed is derived per epoch."""
    info = torch.utils.data.get_worker_info()
    base = info.seed if info is not None else worker_id
    seed_all(derive_seed(base, "worker", worker_id))
    torch.set_num_threads(1)
