"""Deterministic data order for training: every sample has a global *position*.

Position ``p = step · global_batch + j`` is sample j of optimizer step ``step``. It maps to
dataset index ``perm_epoch[p mod N]`` (a fresh seeded permutation per epoch) and seeds that
sample's random generator. Ranks and accumulation steps take disjoint slices of each step's
positions, so the samples and their noise are the same for any world size, and resuming at
step s is just starting the positions at ``s · global_batch``.

Streaming data sets (``IterableDataset``, e.g. webdataset shards) have no index: they are read
in stream order, epoch after epoch (``set_epoch``), in micro-batches that get the positions the
sampler gives that step (so per-sample noise is still a function of the position); a resumed
run re-reads and drops the micro-batches before its start step, which is exact for a
deterministic stream and costs their decoding (:func:`stream_batches`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler

from cinediff.data.sharding import epoch_order


def position_seed(seed: int, position: int, stream: int = 0) -> int:
    """A well-mixed 63-bit seed for (run seed, stream, position); stream 0 = samples, 1 = steps."""
    return int(np.random.SeedSequence([seed, stream, position]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def position_generators(seed: int, positions: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per sample, seeded by its position (see module docstring)."""
    return [torch.Generator().manual_seed(position_seed(seed, int(p))) for p in positions]


class PositionedDataset(Dataset):
    """Reads ``dataset`` by global position; items gain a ``position`` entry."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    @lru_cache(maxsize=4)
    def permutation(self, epoch: int):
        return epoch_order(len(self.dataset), self.seed, epoch)

    def index(self, position: int) -> int:
        epoch, offset = divmod(int(position), len(self.dataset))
        return int(self.permutation(epoch)[offset])

    def __getitems__(self, positions: Sequence[int]) -> list[dict]:
        indices = [self.index(p) for p in positions]
        if hasattr(self.dataset, "__getitems__"):
            items = self.dataset.__getitems__(indices)
        else:
            items = [self.dataset[i] for i in indices]
        return [{**item, "position": int(p)} for item, p in zip(items, positions)]

    def __getitem__(self, position: int) -> dict:
        return self.__getitems__([position])[0]


class StepBatchSampler(Sampler):
    """Yields this rank's micro-batches of positions for steps ``start_step .. steps - 1``."""

    def __init__(self, start_step: int, steps: int, global_batch: int, rank: int, world_size: int, grad_accum: int):
        if global_batch % (world_size * grad_accum):
            raise ValueError(f"data.batch_size={global_batch} must be divisible by world_size × grad_accum "
                             f"= {world_size} × {grad_accum}")
        self.start_step, self.steps, self.global_batch = start_step, steps, global_batch
        self.rank, self.world_size, self.grad_accum = rank, world_size, grad_accum

    @property
    def micro_batch(self) -> int:
        return self.global_batch // (self.world_size * self.grad_accum)

    def __len__(self) -> int:
        return max(self.steps - self.start_step, 0) * self.grad_accum

    def __iter__(self):
        per_rank = self.global_batch // self.world_size
        for step in range(self.start_step, self.steps):
            first = step * self.global_batch + self.rank * per_rank
            for k in range(self.grad_accum):
                start = first + k * self.micro_batch
                yield list(range(start, start + self.micro_batch))


def is_streaming(dataset) -> bool:
    """Whether ``dataset`` can only be iterated (no ``len`` / indexing)."""
    return isinstance(dataset, IterableDataset)


def first_item(dataset) -> dict:
    """Item 0 of an indexed data set, the first item of a stream."""
    return next(iter(dataset)) if is_streaming(dataset) else dataset[0]


def stream_batches(dataset: IterableDataset, sampler: StepBatchSampler, collate_fn: Callable,
                   num_workers: int = 0) -> Iterator[dict]:
    """This rank's micro-batches of a streaming data set for the sampler's steps, each with the
    ``position`` entries the sampler gives it; a new epoch (``set_epoch``) whenever the stream ends;
    the micro-batches before ``sampler.start_step`` are read and dropped (module docstring)."""
    positions, skip, epoch = iter(sampler), sampler.start_step * sampler.grad_accum, 0
    while True:
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        loader = DataLoader(dataset, batch_size=sampler.micro_batch, collate_fn=collate_fn, num_workers=num_workers,
                            drop_last=True)
        produced = False
        for batch in loader:
            produced = True
            if skip:
                skip -= 1
                continue
            wanted = next(positions, None)
            if wanted is None:
                return
            yield batch | {"position": torch.tensor(wanted)}
        if not produced:
            raise ValueError(f"the streaming data set yields fewer than data.batch_size / ranks = {sampler.micro_batch} "
                             "items per epoch on this rank (with every DataLoader worker's share)")
        epoch += 1
