"""Batching items: ``video`` (B, C, T, H, W), ``caption`` list[str], ``fps`` (B,), ..."""

from __future__ import annotations

import torch


def collate(items: list[dict]) -> dict:
    """Stacks videos (all of one T, H, W) and numbers; keeps strings and records as lists."""
    frames = {tuple(it["video"].shape) for it in items}
    if len(frames) > 1:
        raise ValueError(f"a batch mixes video shapes {sorted(frames)}; batch images and videos separately")
    batch = {"video": torch.stack([it["video"] for it in items])}  # (B, C, T, H, W)
    for key in ("fps", "index", "position", "skipped"):
        if key in items[0]:
            batch[key] = torch.tensor([it[key] for it in items])
    for key in ("caption", "attributes"):
        if key in items[0]:
            batch[key] = [it[key] for it in items]
    return batch
