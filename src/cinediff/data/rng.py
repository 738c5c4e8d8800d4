"""Per-item random generators: item ``i`` of a data set depends on ``(seed, i)`` only."""

from __future__ import annotations

import zlib

import numpy as np


def item_rng(seed: int, index: int, stream: str = "", epoch: int = 0) -> np.random.Generator:
    """An independent generator for one item.

    ``stream`` names a purpose ("pixels", "caption", ...) so that e.g. adding a caption
    template never changes the rendered pixels; ``epoch`` varies random crops per epoch.
    """
    key = [int(seed) & 0xFFFFFFFF, int(index), zlib.crc32(stream.encode()), int(epoch)]
    return np.random.default_rng(key)
