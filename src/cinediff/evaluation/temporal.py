"""Temporal consistency and flicker of videos (B, C, T, H, W) in [-1, 1].

* consistency: mean cosine similarity of the features of consecutive frames (1 for a
  static clip). Features come from ``feature_fn`` (frames (N, C, H, W) -> (N, D)), e.g. a
  CLIP image tower; the default is the frame itself, area-downsampled to 32x32 and
  flattened, in [-1, 1] (so that unrelated frames score near 0, not near 1).
* flicker: mean absolute difference of consecutive frames, in [0, 1] pixel units
  (0 for a static clip, 1/3 for independent uniform noise).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from einops import rearrange

FEATURE_SIZE = 32  # side of the downsampled frames of the default features


def pixel_features(frames: torch.Tensor, size: int = FEATURE_SIZE) -> torch.Tensor:
    """Frames (N, C, H, W) -> (N, C * size * size): area-downsampled (never upsampled) pixels."""
    h, w = frames.shape[-2:]
    frames = F.interpolate(frames, size=(min(size, h), min(size, w)), mode="area")
    return frames.flatten(1)


def _check(videos: torch.Tensor) -> torch.Tensor:
    if videos.ndim != 5 or videos.shape[2] < 2:
        raise ValueError(f"videos must be (B, C, T, H, W) with T >= 2, got shape {tuple(videos.shape)}")
    return videos.float()


@torch.no_grad()
def temporal_consistency(videos: torch.Tensor,
                         feature_fn: Callable[[torch.Tensor], torch.Tensor] = pixel_features) -> torch.Tensor:
    """(B,) mean over t of cos(f(frame t), f(frame t+1))."""
    videos = _check(videos)
    b = videos.shape[0]
    feats = feature_fn(rearrange(videos, "b c t h w -> (b t) c h w")).float()
    feats = rearrange(feats, "(b t) d -> b t d", b=b)
    return F.cosine_similarity(feats[:, :-1], feats[:, 1:], dim=-1).mean(1)


def flicker(videos: torch.Tensor) -> torch.Tensor:
    """(B,) mean |frame t+1 - frame t| in [0, 1] pixel units."""
    videos = _check(videos)
    return (videos[:, :, 1:] - videos[:, :, :-1]).abs().mean((1, 2, 3, 4)) / 2
