"""Joint image-video training: batches are all-video or all-image (one T per batch).

:class:`MixedBatchSampler` yields batches of indices into ``ConcatDataset([videos, images])``
(image indices offset by ``len(videos)``). Whether step ``k`` is an image step depends only on
(seed, epoch, k), so all DDP ranks take the same kind of step; the indices of each kind come
from a seeded per-epoch permutation, strided over ranks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from torch.utils.data import ConcatDataset, DataLoader, Dataset, Sampler

from cinediff.data.collate import collate
from cinediff.data.rng import item_rng
from cinediff.data.sharding import epoch_order, rank_and_world


class MixedBatchSampler(Sampler):
    """Batches of video indices, and with probability ``image_fraction`` image indices instead.

    ``num_batches`` per epoch defaults to the steps that show every video about once
    (over all ranks). Call ``set_epoch`` every epoch.
    """

    def __init__(self, num_videos: int, num_images: int, batch_size: int, image_fraction: float = 0.25,
                 image_batch_size: int | None = None, seed: int = 0, rank: int | None = None,
                 world_size: int | None = None, num_batches: int | None = None):
        if not 0 <= image_fraction <= 1 or (image_fraction > 0 and num_images == 0):
            raise ValueError(f"need 0 <= image_fraction <= 1 and images to mix, "
                             f"got {image_fraction} with {num_images} images")
        self.sizes = (num_videos, num_images)
        self.batch_sizes = (batch_size, image_batch_size or batch_size)
        self.image_fraction, self.seed, self.epoch = image_fraction, seed, 0
        self.rank, self.world_size = rank_and_world(rank, world_size)
        video_steps = math.ceil(num_videos / (batch_size * self.world_size))
        self.num_batches = num_batches or math.ceil(video_steps / max(1e-9, 1 - image_fraction))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def kinds(self) -> np.ndarray:
        """(num_batches,) bool: True for image steps; the same on every rank."""
        return item_rng(self.seed, self.epoch, "mix-kinds").random(self.num_batches) < self.image_fraction

    def __iter__(self) -> Iterator[list[int]]:
        orders = [epoch_order(n, self.seed + kind, self.epoch) for kind, n in enumerate(self.sizes)]  # video, image
        taken = [0, 0]  # batches of each kind so far (over all ranks)
        for kind in self.kinds().astype(int):
            size, n = self.batch_sizes[kind], self.sizes[kind]
            first = (taken[kind] * self.world_size + self.rank) * size
            picks = orders[kind][np.arange(first, first + size) % n]  # wraps around: never short
            taken[kind] += 1
            yield [int(i) + kind * self.sizes[0] for i in picks]


class ConcatClips(ConcatDataset):
    """``ConcatDataset`` that fetches a batch from one part with that part's ``__getitems__``."""

    def __getitems__(self, indices: list[int]) -> list[dict]:
        parts = {int(np.searchsorted(self.cumulative_sizes, i, side="right")) for i in indices}
        part = parts.pop() if len(parts) == 1 else None
        fetch = getattr(self.datasets[part], "__getitems__", None) if part is not None else None
        if fetch is None:
            return [self[i] for i in indices]
        offset = self.cumulative_sizes[part - 1] if part else 0
        return fetch([i - offset for i in indices])


def mixed_loader(videos: Dataset, images: Dataset, batch_size: int, image_fraction: float = 0.25,
                 image_batch_size: int | None = None, seed: int = 0, num_workers: int = 0,
                 **sampler_args) -> DataLoader:
    """A DataLoader of collated batches, each all-video or all-image (see the module doc)."""
    sampler = MixedBatchSampler(len(videos), len(images), batch_size, image_fraction, image_batch_size, seed,
                                **sampler_args)
    return DataLoader(ConcatClips([videos, images]), batch_sampler=sampler, collate_fn=collate, num_workers=num_workers)
