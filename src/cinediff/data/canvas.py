"""Painting object layers into clips: each object only touches a small window per frame.

Objects are small (<= ~40% of the frame), so coverage is evaluated on a window of
``S x S`` pixels that follows the object, then blended into the clip in place.
"""

from __future__ import annotations

import math

import torch


def object_windows(centers: torch.Tensor, diameters: torch.Tensor, height: int,
                   width: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pixel windows that hold every pixel an object covers, per object and frame.

    Returns top-left corners (N, T, 2) [x, y] (long) and the common size (Sx, Sy). A pixel
    ``j`` can be covered only if ``|j + 0.5 - c| < r + 0.5`` (every shape lies in its box),
    so a window of ``2r + 3`` px from ``floor(c - r - 1)`` misses none.
    """
    side = math.ceil(float(diameters.max())) + 3
    size = (min(side, width), min(side, height))
    corner = torch.floor(centers - diameters[..., None] / 2 - 1).long()
    corner[..., 0].clamp_(0, width - size[0])
    corner[..., 1].clamp_(0, height - size[1])
    return corner, size


def window_offsets(corner: torch.Tensor, size: tuple[int, int],
                   centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Offsets in px from each object's center to its window's pixel centers.

    Returns x (N, T, 1, Sx) and y (N, T, Sy, 1); pixel (i, j) is sampled at (j + 0.5, i + 0.5).
    """
    xs = (corner[..., 0, None] + torch.arange(size[0])).float() + 0.5 - centers[..., 0, None]  # (N, T, Sx)
    ys = (corner[..., 1, None] + torch.arange(size[1])).float() + 0.5 - centers[..., 1, None]  # (N, T, Sy)
    return xs[:, :, None, :], ys[:, :, :, None]


def fill_background(out: torch.Tensor, rgb: torch.Tensor) -> None:
    """Sets every pixel of ``out`` (B, 3, T, H, W) to its clip's color ``rgb`` (B, 3)."""
    out.copy_(rgb[:, :, None, None, None].expand_as(out))


def paint(video: torch.Tensor, clips: torch.Tensor, colors: torch.Tensor, alpha: torch.Tensor,
          corner: torch.Tensor) -> None:
    """Paints one layer in place: ``video`` (B, 3, T, H, W) <- colors (n, 3) with coverage
    (n, T, Sy, Sx) at window corners (n, T, 2) of clips (n,) (distinct ids)."""
    b, c, t, h, w = video.shape
    sy, sx = alpha.shape[-2:]
    ys = corner[..., 1, None, None] + torch.arange(sy)[:, None]  # (n, T, Sy, 1)
    xs = corner[..., 0, None, None] + torch.arange(sx)  # (n, T, 1, Sx)
    pixel = ys * w + xs  # (n, T, Sy, Sx) in the H*W plane
    row = (clips[:, None, None] * c + torch.arange(c)[:, None]) * t + torch.arange(t)  # (n, 3, T) rows of (B*3*T, H*W)
    flat = row[..., None, None] * (h * w) + pixel[:, None]  # (n, 3, T, Sy, Sx)
    pixels = video.view(-1)
    pixels[flat] = torch.lerp(pixels[flat], colors[:, :, None, None, None], alpha[:, None])


def flatten_objects(records: list[dict]) -> tuple[list[dict], torch.Tensor, torch.Tensor]:
    """All objects of clip records, their clip ids (N,) and paint order within the clip (N,)."""
    slots = [(b, k, obj) for b, rec in enumerate(records) for k, obj in enumerate(rec["objects"])]
    clip, order = torch.tensor([s[0] for s in slots]), torch.tensor([s[1] for s in slots])
    return [s[2] for s in slots], clip, order


def paint_objects(out: torch.Tensor, clip: torch.Tensor, order: torch.Tensor, colors: torch.Tensor,
                  alpha: torch.Tensor, corner: torch.Tensor) -> None:
    """Paints N objects into ``out`` (B, 3, T, H, W): first every clip's object 0, then 1, ..."""
    for k in range(int(order.max()) + 1):
        sel = order == k
        paint(out, clip[sel], colors[sel], alpha[sel], corner[sel])
