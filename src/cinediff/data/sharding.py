"""Splitting data among DDP ranks and DataLoader workers so that each sees distinct samples.

A *shard* is one (rank, worker) pair: shard ``rank * num_workers + worker`` of
``world_size * num_workers``. Map-style sets use a ``DistributedSampler`` over their index
space (the DataLoader then hands whole batches to workers); iterable sets stride over an
epoch permutation shared by every shard (:class:`ShardedIterable`) or over their tar
shards (``WebDataset``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch.distributed as dist
from torch.utils.data import Dataset, DistributedSampler, IterableDataset, get_worker_info

from cinediff.data.rng import item_rng


@dataclass(frozen=True)
class Shard:
    rank: int = 0  # DDP rank
    world_size: int = 1  # DDP processes
    worker: int = 0  # DataLoader worker id on this rank
    num_workers: int = 1  # DataLoader workers per rank (1 when loading in the main process)

    @property
    def index(self) -> int:
        return self.rank * self.num_workers + self.worker

    @property
    def count(self) -> int:
        return self.world_size * self.num_workers


def rank_and_world(rank: int | None = None, world_size: int | None = None) -> tuple[int, int]:
    """Explicit values, else torch.distributed's when initialised, else (0, 1)."""
    initialised = dist.is_available() and dist.is_initialized()
    if rank is None:
        rank = dist.get_rank() if initialised else 0
    if world_size is None:
        world_size = dist.get_world_size() if initialised else 1
    return rank, world_size


def current_shard(rank: int | None = None, world_size: int | None = None, worker: int | None = None,
                  num_workers: int | None = None) -> Shard:
    """This process's shard: explicit arguments win, else torch.distributed and the
    DataLoader worker info of the calling process."""
    rank, world_size = rank_and_world(rank, world_size)
    info = get_worker_info()
    worker = worker if worker is not None else (info.id if info else 0)
    num_workers = num_workers if num_workers is not None else (info.num_workers if info else 1)
    return Shard(rank, world_size, worker, num_workers)


def shard_slice(items: Sequence, shard: Shard) -> list:
    """Every ``shard.count``-th item from ``shard.index``: disjoint and covering over shards."""
    return list(items[shard.index :: shard.count])


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool = True) -> np.ndarray:
    """(n,) indices of an epoch: the same seeded permutation on every rank and worker."""
    return item_rng(seed, epoch, "epoch-order").permutation(n) if shuffle else np.arange(n)


def distributed_sampler(dataset: Dataset, shuffle: bool = True, seed: int = 0, rank: int | None = None,
                        world_size: int | None = None, drop_last: bool = False) -> DistributedSampler:
    """A ``DistributedSampler`` with rank/world size from :func:`rank_and_world`; call
    ``set_epoch`` every epoch."""
    rank, world_size = rank_and_world(rank, world_size)
    return DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed,
                              drop_last=drop_last)


class ShardedIterable(IterableDataset):
    """Streams a map-style data set; each (rank, worker) gets a disjoint stride of the epoch.

    ``chunk`` items are fetched together through ``__getitems__`` when the data set has it
    (batched rendering of the synthetic sets).
    """

    def __init__(self, dataset: Dataset, shuffle: bool = True, seed: int = 0, rank: int | None = None,
                 world_size: int | None = None, chunk: int = 32):
        self.dataset, self.shuffle, self.seed, self.chunk = dataset, shuffle, seed, chunk
        self.rank, self.world_size, self.epoch = rank, world_size, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self, shard: Shard | None = None) -> list[int]:
        """The indices shard ``shard`` (default: this process's) reads this epoch."""
        shard = shard or current_shard(self.rank, self.world_size)
        return [int(i) for i in shard_slice(epoch_order(len(self.dataset), self.seed, self.epoch, self.shuffle), shard)]

    def __iter__(self) -> Iterator[dict]:
        mine = self.indices()
        fetch = getattr(self.dataset, "__getitems__", None)
        for start in range(0, len(mine), self.chunk):
            part = mine[start : start + self.chunk]
            yield from fetch(part) if fetch else (self.dataset[i] for i in part)

