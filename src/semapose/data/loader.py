"""Reading a configured dataset and building DataLoaders.

``load_records(dataset, annotations, root)`` dispatches to the right reader;
``build_dataset(cfg, split)`` makes a :class:`PoseTrackClipDataset` (validation uses
``cfg.data.val_boxes`` detections when set); ``build_train_loader`` /
``build_eval_loader`` wrap it with workers, persistent workers, pinned memory on
CUDA and an optional :class:`~torch.utils.data.distributed.DistributedSampler`.

Each sample decodes each of its frame files once (``cv2.imread``); with ``T`` frames
per clip and ``num_workers`` workers the two CPU cores stay busy decoding and
warping while the main process trains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler, SequentialSampler
from torch.utils.data.distributed import DistributedSampler

from semapose.config import Config
from semapose.data.records import FrameRecord
from semapose.errors import ConfigError


def load_records(
    dataset: str, annotations: str | Path, root: str | Path | None = None
) -> list[FrameRecord]:
    """Records of ``dataset`` (posetrack17/18/21, coco, synthetic) from an annotation
    file or folder; ``root`` is the folder image paths are relative to (guessed if empty)."""
    from semapose.data import coco, posetrack

    root = root or None
    if dataset in ("posetrack18", "synthetic"):
        return posetrack.load_posetrack18(annotations, root)
    if dataset == "posetrack21":
        return posetrack.load_posetrack21(annotations, root)
    if dataset == "posetrack17":
        return posetrack.load_posetrack17(annotations, root)
    if dataset == "coco":
        return coco.load_coco(annotations, root)
    raise ConfigError(
        "<config>", "data.dataset", "posetrack17|posetrack18|posetrack21|coco|synthetic", dataset
    )


def build_dataset(cfg: Config, split: str = "train") -> Any:
    """PoseTrackClipDataset for ``split`` ('train' or 'val') from ``cfg.data``."""
    from semapose.data.boxes import attach_boxes, load_boxes
    from semapose.data.clips import PoseTrackClipDataset

    d = cfg.data
    ann = d.train_annotations if split == "train" else d.val_annotations
    if not ann:
        raise ConfigError(
            cfg.source, f"data.{split}_annotations", "an annotation file or folder", ""
        )
    records = load_records(d.dataset, ann, d.root or None)
    detections = None
    if split != "train" and d.val_boxes:
        detections = attach_boxes(records, load_boxes(d.val_boxes, d.box_score_threshold))
    return PoseTrackClipDataset(records, cfg, train=split == "train", detections=detections)


def _worker_init(_: int) -> None:
    # one thread per worker: the workers themselves are the parallelism
    torch.set_num_threads(1)


def _loader_kwargs(cfg: Config, pin_memory: bool | None, device: str | None) -> dict[str, Any]:
    workers = int(cfg.data.num_workers)
    if workers > 0:
        import cv2

        cv2.setNumThreads(0)  # before forking: OpenCV's thread pool is not fork-safe
    if pin_memory is None:
        dev = device or cfg.train.device
        pin_memory = torch.cuda.is_available() and dev in ("auto",) or str(dev).startswith("cuda")
    kwargs: dict[str, Any] = {
        "num_workers": workers,
        "pin_memory": bool(pin_memory),
        "worker_init_fn": _worker_init if workers > 0 else None,
        "persistent_workers": workers > 0,
    }
    if workers > 0:
        kwargs["prefetch_factor"] = 2
    return kwargs


def build_train_loader(
    cfg: Config,
    dataset: Dataset[Any],
    distributed: bool = False,
    rank: int = 0,
    world_size: int = 1,
    seed: int | None = None,
    batch_size: int | None = None,
    pin_memory: bool | None = None,
) -> DataLoader[Any]:
    """Shuffled loader, ``drop_last=True``; batch size per process = ``cfg.train.batch_size``.

    With ``distributed=True`` a DistributedSampler shards the data; call
    ``loader.sampler.set_epoch(epoch)`` each epoch (also safe for the plain sampler
    via :func:`set_epoch`).
    """
    seed = cfg.train.seed if seed is None else seed
    sampler: Any
    if distributed:
        sampler = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True
        )
    else:
        gen = torch.Generator()
        gen.manual_seed(seed)
        sampler = RandomSampler(dataset, generator=gen)  # type: ignore[arg-type]
    bs = batch_size or cfg.train.batch_size
    return DataLoader(
        dataset,
        batch_size=min(bs, max(len(dataset), 1)),  # type: ignore[arg-type]
        sampler=sampler,
        drop_last=True,
        **_loader_kwargs(cfg, pin_memory, None),
    )


def build_eval_loader(
    cfg: Config,
    dataset: Dataset[Any],
    distributed: bool = False,
    rank: int = 0,
    world_size: int = 1,
    batch_size: int | None = None,
    pin_memory: bool | None = None,
) -> DataLoader[Any]:
    """In-order loader over all samples (``cfg.test.batch_size``); distributed shards
    without padding duplicates are not guaranteed by torch, so gather by ``meta``."""
    sampler: Any
    if distributed:
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=False)
    else:
        sampler = SequentialSampler(dataset)  # type: ignore[arg-type]
    return DataLoader(
        dataset,
        batch_size=batch_size or cfg.test.batch_size,
        sampler=sampler,
        drop_last=False,
        **_loader_kwargs(cfg, pin_memory, None),
    )


def set_epoch(loader: DataLoader[Any], epoch: int) -> None:
    """Tell a DistributedSampler the epoch (no-op for other samplers)."""
    sampler = loader.sampler
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(epoch)


__all__ = [
    "load_records",
    "build_dataset",
    "build_train_loader",
    "build_eval_loader",
    "set_epoch",
]
