"""Looking at a data set: the first items of any set, tiled into one grid video."""

from __future__ import annotations

import itertools

import torch
from torch.utils.data import Dataset, IterableDataset

from cinediff.io.video import make_grid


def take(dataset: Dataset, n: int) -> list[dict]:
    """The first ``n`` items (batched when the set supports ``__getitems__``)."""
    if isinstance(dataset, IterableDataset):
        return list(itertools.islice(iter(dataset), n))
    indices = list(range(min(n, len(dataset))))
    fetch = getattr(dataset, "__getitems__", None)
    return fetch(indices) if fetch else [dataset[i] for i in indices]


def preview_grid(dataset: Dataset, n: int = 16, nrow: int | None = None) -> tuple[torch.Tensor, list[dict]]:
    """A grid video (3, T, H', W') of the first ``n`` items, and the items."""
    items = take(dataset, n)
    if not items:
        raise ValueError("the data set yielded no items")
    return make_grid([item["video"] for item in items], nrow=nrow), items
