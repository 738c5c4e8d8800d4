"""Shared machinery of the synthetic clip sets: item ``i`` is a pure function of (seed, i).

A set describes clip ``i`` as a JSON-serialisable *record* (``describe_clip``) and renders
a list of records into pixels at once (``render_clips``); this base class turns that into a
map-style data set with batched fetching (``__getitems__``, used by ``DataLoader``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import torch
from torch.utils.data import Dataset

RENDER_CHUNK = 64  # clips rendered together; bounds peak memory (~40 MB at 16x64x64)


class SyntheticClips(Dataset):
    """Base of moving-shapes, moving-digits and camera-moves.

    A subclass names its ``config_class`` (a dataclass with ``length``, ``fps``, ``frames``,
    ``height``, ``width``) and two plain functions: ``describe_clip(config, index) -> record``
    (a JSON-serialisable dict with at least ``caption``) and ``render_clips(records, config,
    out)``, which writes the clips into ``out`` (B, 3, T, H, W) in [-1, 1] (in place: fresh
    memory costs page faults). ``Subclass(config=None, **overrides)`` replaces config fields.
    """

    config_class: type
    describe_clip: Callable[[object, int], dict]
    render_clips: Callable[[list[dict], object, torch.Tensor], None]

    def __init__(self, config=None, **overrides):
        self.config = replace(config or self.config_class(), **overrides)

    def __len__(self) -> int:
        return self.config.length

    def attributes(self, index: int) -> dict:
        """The record of clip ``index`` (cheap: no pixels are rendered)."""
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} clips")
        return self.describe_clip(self.config, index)

    def render_batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, list[dict]]:
        """Clips ``indices`` as one tensor (B, C, T, H, W) float32 in [-1, 1], plus records."""
        records = [self.attributes(int(i)) for i in indices]
        cfg = self.config
        out = torch.empty(len(records), 3, cfg.frames, cfg.height, cfg.width)
        for s in range(0, len(records), RENDER_CHUNK):
            self.render_clips(records[s : s + RENDER_CHUNK], cfg, out[s : s + RENDER_CHUNK])
        return out, records

    def __getitems__(self, indices: Sequence[int]) -> list[dict]:
        videos, records = self.render_batch(indices)
        return [self._item(v, r, int(i)) for v, r, i in zip(videos, records, indices)]

    def __getitem__(self, index: int) -> dict:
        return self.__getitems__([index])[0]

    def _item(self, video: torch.Tensor, record: dict, index: int) -> dict:
        fps = float(self.config.fps)
        return {"video": video, "caption": record["caption"], "fps": fps, "attributes": record, "index": index}


def bench(dataset: SyntheticClips, n: int = 1000, batch: int = RENDER_CHUNK) -> float:
    """Clips per second of ``render_batch`` (records + pixels) over ``n`` clips, ``batch`` at a time."""
    dataset.render_batch(range(min(n, 8)))  # warm-up
    start = time.perf_counter()
    for first in range(0, n, batch):
        dataset.render_batch(range(first, min(first + batch, n)))
    return n / (time.perf_counter() - start)


def object_count(rng, max_objects: int, two_object_prob: float) -> int:
    """1 object, or 2 with probability ``two_object_prob`` when ``max_objects >= 2``."""
    return 2 if max_objects >= 2 and rng.random() < two_object_prob else 1
