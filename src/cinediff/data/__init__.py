"""Captioned video data: synthetic sets made from a seed, and real videos from disk.

``build_dataset(name, **config)`` makes any of :data:`DATASETS`; the keyword arguments are
fields of that set's config dataclass (e.g. ``frames=8, split="heldout"``). Items are
``{"video": (C, T, H, W) float32 in [-1, 1], "caption": str, "fps": float,
"attributes": dict, "index": int}``. :func:`parse_caption` recovers the attributes named
in any generated caption (for evaluating text-video alignment).
"""

from __future__ import annotations

import importlib

from torch.utils.data import Dataset

from cinediff.data.captions import parse_caption

# name -> "module:class"; classes take ``(config=None, **overrides)``.
DATASETS: dict[str, str] = {
    "moving-shapes": "cinediff.data.shapes:MovingShapes",
    "moving-digits": "cinediff.data.digits:MovingDigits",
    "camera-moves": "cinediff.data.camera:CameraMoves",
    "folder": "cinediff.data.folder:VideoFolder",
    "images": "cinediff.data.images:ImageFolder",
    "webdataset": "cinediff.data.webdataset:WebDataset",
    "concat": "cinediff.data.concat:ConcatSets",
}


def dataset_class(name: str) -> type:
    """The class registered under ``name``."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {sorted(DATASETS)}")
    module, _, cls = DATASETS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def build_dataset(name: str, **config) -> Dataset:
    """A data set by registry name, its config fields given as keyword arguments."""
    return dataset_class(name)(**config)


__all__ = ["DATASETS", "build_dataset", "dataset_class", "parse_caption"]
