"""Temporal windows: run a model trained on short clips over a longer one, then blend.

A clip of ``total`` frames is covered by windows of ``size`` frames starting every ``stride``
frames, the last one ending on the last frame. Overlapping outputs are blended with **linear
cross-fade** weights: frame ``i`` of a window weighs ``min(i + 1, size - i)`` (a tent, highest
mid-window, where the model saw context on both sides), normalised over the windows that hold
the frame, so each frame's weights sum to 1 and identical windows blend to themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch


def window_starts(total: int, size: int, stride: int, align: int = 1) -> list[int]:
    """First frames of windows of ``size`` covering frames ``0 .. total-1``: every ``stride``
    frames (rounded down to a multiple of ``align``, e.g. keyframe slots), the last one at
    ``total - size`` (callers take ``size = min(size, total)`` for a clip shorter than a window)."""
    if min(size, stride, align, total) < 1:
        raise ValueError(f"windows need positive total, size, stride and align; got {total}, {size}, {stride}, {align}")
    if size > total:
        raise ValueError(f"a window of {size} frames is longer than the clip ({total} frames)")
    last = total - size
    if last % align:
        raise ValueError(f"a window of {size} ending on frame {total - 1} starts at {last}, not a multiple of {align}")
    starts = sorted({s - s % align for s in range(0, last, stride)} | {last})
    gaps = [b - a for a, b in pairwise(starts) if b - a > size]
    if gaps:
        raise ValueError(f"windows of {size} frames every {stride} (aligned to {align}) leave frames uncovered")
    return starts


def window_weights(starts: Sequence[int], size: int, total: int) -> torch.Tensor:
    """Cross-fade weights ``(N, total)`` of N windows: zero outside a window, each column sums to 1."""
    if any(start < 0 or start + size > total for start in starts):
        raise ValueError(f"windows of {size} frames at {list(starts)} do not fit in {total} frames")
    tent = torch.arange(size)
    tent = torch.minimum(tent + 1, size - tent).float()  # (size,)
    weights = torch.zeros(len(starts), total)
    for n, start in enumerate(starts):
        weights[n, start:start + size] = tent
    if not weights.sum(dim=0).all():
        raise ValueError(f"windows of {size} frames at {list(starts)} leave some of the {total} frames uncovered")
    return weights / weights.sum(dim=0)


def blend_windows(outputs: Sequence[torch.Tensor], starts: Sequence[int], total: int) -> torch.Tensor:
    """Window outputs ``N × (B, C, size, H, W)`` → ``(B, C, total, H, W)``, overlaps cross-faded."""
    if len(outputs) != len(starts) or not outputs:
        raise ValueError(f"got {len(outputs)} window outputs for {len(starts)} starts")
    size = outputs[0].shape[2]
    weights = window_weights(starts, size, total).to(outputs[0])  # (N, total)
    video = outputs[0].new_zeros(*outputs[0].shape[:2], total, *outputs[0].shape[3:])
    for out, start, w in zip(outputs, starts, weights):
        video[:, :, start:start + size] += out * w[start:start + size].view(-1, 1, 1)
    return video
