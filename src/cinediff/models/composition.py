"""Layered composition (``GenerationConfig.layers``): a prompt that lists objects ("a red ball moving
left and a blue box growing") drawn one object per phrase, the videos stacked back to front.

Why: the binding test (``cinediff bench diagnose``) finds that the shipped default reads a two-object
caption as a bag of motions: exchanging the two objects' motions changes its loss by ~0 %, so it
draws each motion on either object (two-object motion 7 of 20 right on the built-in prompts) while it
draws one object right (43 of 44). So each " and "-joined phrase (``text.phrases.split_phrases``) is
drawn as a one-object video with a seed of its own and the videos are composited like the layers of a
collage (Collage Diffusion, Sarukkai et al. 2023, generates and blends per-object layers; LVD,
Lian et al. 2024, plans one layout per object). It is made for objects over a flat background, the
moving-shapes domain: an object's coverage is its distance from the background colour.

Per layer ``x`` (C, T, H, W) in [-1, 1]:

- background ``b`` (C,): the per-channel median of the border pixels of all frames;
- coverage ``a`` (T, H, W) in [0, 1]: ``d = |x − b|`` over channels, ``a = min(d / top, 1)`` where
  ``d ≥ FLOOR`` (else 0: sampling noise), ``top`` the layer's ``TOP_QUANTILE`` of ``d`` (its object's
  full contrast), so an anti-aliased edge pixel ``b + a (c − b)`` gets its own ``a``;
- colour ``c = b + (x − b) / a``: the object's colour with anti-aliased edges un-mixed;
- over: ``out ← (1 − a) out + a c``.

The first phrase's video, background included, is the bottom layer, so a one-phrase prompt is drawn
exactly as without layers. A layer whose object would touch the ones below is moved, whole, by the
offset (on a grid of ``min(H, W) / 16`` px) with the least overlap plus coverage pushed out of frame,
the smallest such offset first: where an object is, the prompts never say; its motion, size and shape
are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from cinediff.runtime import derive_seeds
from cinediff.text.phrases import split_phrases

FLOOR = 0.15  # coverage 0 below this distance from the background ([-1, 1] units: ~19 of 255 levels)
MIN_TOP = 0.3  # full coverage needs at least this distance (a layer that drew nothing stays transparent)
TOP_QUANTILE = 0.995  # of the distances in a layer: its object's full contrast
LAYER_SEED_KEY = 7  # derive_seeds(seeds, LAYER_SEED_KEY, k): the seed of phrase k > 0


def border_background(video: torch.Tensor) -> torch.Tensor:
    """Per-channel median of the border pixels of all frames of ``video`` (C, T, H, W) -> (C,)."""
    border = torch.cat([video[..., 0, :], video[..., -1, :], video[..., :, 0], video[..., :, -1]], dim=-1)  # (C, T, P)
    return border.reshape(video.shape[0], -1).median(dim=1).values


def coverage(video: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Coverage (T, H, W) in [0, 1] of ``video`` (C, T, H, W) by what is not ``background`` (C,):
    a pixel's distance from the background over the object's full contrast (an anti-aliased edge
    ``b + a (c − b)`` gets its ``a``), 0 below ``FLOOR`` (sampling noise)."""
    distance = (video - background[:, None, None, None]).norm(dim=0)  # (T, H, W)
    top = distance.flatten().quantile(TOP_QUANTILE).clamp(min=MIN_TOP)
    return torch.where(distance >= FLOOR, (distance / top).clamp(max=1), 0.0)


def translate(t: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``t`` (..., H, W) moved down ``dy`` and right ``dx`` pixels, zeros shifted in."""
    h, w = t.shape[-2:]
    out = torch.zeros_like(t)
    if abs(dy) < h and abs(dx) < w:
        out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            t[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def placement(below: torch.Tensor, alpha: torch.Tensor) -> tuple[int, int]:
    """Offset (dy, dx) px for a layer of coverage ``alpha`` (T, H, W) over the coverage ``below``:
    the least overlap with ``below`` grown by one pixel plus coverage pushed out of frame, in
    pixel-frames; ties (e.g. no overlap at all) go to the smallest offset, so (0, 0) when it is free."""
    h, w = alpha.shape[-2:]
    grown = F.max_pool2d(below[:, None], 3, stride=1, padding=1)[:, 0]  # keep a 1-pixel gap
    step = max(1, min(h, w) // 16)
    total = alpha.sum()
    best, best_offset = None, (0, 0)
    for dy in range(-(h // 2), h // 2 + 1, step):
        for dx in range(-(w // 2), w // 2 + 1, step):
            moved = translate(alpha, dy, dx)
            cost = float((grown * moved).sum() + total - moved.sum()) + 1e-4 * (dy * dy + dx * dx)
            if best is None or cost < best:
                best, best_offset = cost, (dy, dx)
    return best_offset


def composite(layers: torch.Tensor) -> torch.Tensor:
    """Layers (K, C, T, H, W) in [-1, 1], back to front -> one video (C, T, H, W): layer 0 as it
    is, each next layer's object (placed by :func:`placement`) over it."""
    out = layers[0].clone()
    below = coverage(layers[0], border_background(layers[0]))
    for x in layers[1:]:
        background = border_background(x)[:, None, None, None]
        alpha = coverage(x, background[:, 0, 0, 0])
        dy, dx = placement(below, alpha)
        alpha, change = translate(alpha, dy, dx), translate(x - background, dy, dx)
        color = (background + change / alpha.clamp(min=1e-6)).clamp(-1, 1)
        out = out * (1 - alpha) + color * alpha
        below = torch.maximum(below, alpha)
    return out


def generate_layered(draw: Callable[[list[str], list[int]], torch.Tensor], prompts: Sequence[str],
                     seeds: Sequence[int]) -> torch.Tensor:
    """Videos (B, C, T, H, W) for ``prompts``, each phrase drawn on its own and composited.

    ``draw(prompts, seeds)`` makes pixel videos (N, C, T, H, W) in [-1, 1]; it is called once, with
    every phrase of every prompt: phrase 0 with the prompt's seed, phrase k > 0 with
    ``derive_seeds([seed], LAYER_SEED_KEY, k)``. A prompt of one phrase comes back as drawn."""
    phrases = [split_phrases(p) for p in prompts]
    flat_prompts, flat_seeds = [], []
    for parts, seed in zip(phrases, seeds, strict=True):
        flat_prompts += parts
        flat_seeds += [int(seed)] + [derive_seeds([seed], LAYER_SEED_KEY, k)[0] for k in range(1, len(parts))]
    videos = draw(flat_prompts, flat_seeds)
    out, start = [], 0
    for parts in phrases:
        out.append(composite(videos[start:start + len(parts)]))
        start += len(parts)
    return torch.stack(out)
