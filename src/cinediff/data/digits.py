"""moving-digits: sklearn's bundled 8x8 handwritten digits, smoothed and moving like Moving MNIST.

The 1,797 digits of ``sklearn.datasets.load_digits`` are padded to 10x10, upscaled to a
40x40 glyph bank (bicubic) and blurred; a clip samples its glyphs with bilinear
``grid_sample`` at sub-pixel positions and paints them in white over the background.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from cinediff.data import captions
from cinediff.data.attributes import BACKGROUNDS, COLORS, DIRECTIONS, rgb_to_unit
from cinediff.data.canvas import fill_background, flatten_objects, object_windows, paint_objects, window_offsets
from cinediff.data.motion import TrackConfig, as_track_config, place_tracks, track_tensors
from cinediff.data.rng import item_rng
from cinediff.data.synthetic import SyntheticClips, object_count

GLYPH_SIZE = 40  # px of the smooth glyph bank (10x10 padded digits upscaled 4x)
GLYPH_BOX = 10 / 8  # glyph box / digit size: the 8x8 digit plus a blank 1-px border
# Digit size (8x8 extent) in px at 64x64; soft edges need 1/8 of it clear of the border;
# two digits may overlap, as in Moving MNIST.
DIGIT_TRACK = TrackConfig(diameter=(20.0, 28.0), pad=1 / 8, placement_tries=1)


@dataclass
class MovingDigitsConfig:
    frames: int = 16  # T
    height: int = 64  # H, px
    width: int = 64  # W, px
    fps: float = 8.0  # playback rate stored with every clip
    max_objects: int = 2  # 1 or 2 digits per clip
    two_object_prob: float = 0.3  # P(two digits) when max_objects == 2
    digits: tuple[int, ...] = tuple(range(10))  # allowed labels
    motions: tuple[str, ...] = DIRECTIONS  # also "growing" / "shrinking" if wanted
    bounce: bool = False  # reflect off the borders (the caption names the initial direction)
    background: str = "black"  # "black" | "gray"
    color: str = "white"  # digit color (a name in attributes.COLORS)
    smoothing: float = 1.5  # Gaussian blur sigma, px of the 40-px glyph (~1 px on a 24-px digit)
    seed: int = 0  # clip i depends on (seed, i) only
    length: int = 10_000  # clips in the index space
    track: TrackConfig | dict = field(default_factory=lambda: DIGIT_TRACK)  # sizes, travel (or a dict of overrides)

    def __post_init__(self):
        self.track = as_track_config(self.track, DIGIT_TRACK, self.height, self.width)


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (N, 1, H, W) images, zero padding."""
    if sigma <= 0:
        return images
    radius = max(1, round(3 * sigma))
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1.0) / sigma) ** 2)
    taps = taps / taps.sum()
    images = F.conv2d(images, taps.view(1, 1, 1, -1), padding=(0, radius))
    return F.conv2d(images, taps.view(1, 1, -1, 1), padding=(radius, 0))


@functools.lru_cache(maxsize=4)
def digit_glyphs(smoothing: float = 1.5) -> tuple[torch.Tensor, np.ndarray]:
    """Glyph bank (N, 40, 40) in [0, 1] and labels (N,) of sklearn's N = 1,797 digits."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32)[:, None] / 16.0  # (N, 1, 8, 8)
    images = F.pad(images, (1, 1, 1, 1))  # a blank border keeps strokes off the glyph edge
    images = F.interpolate(images, size=GLYPH_SIZE, mode="bicubic", align_corners=False)
    return gaussian_blur(images, smoothing).clamp(0, 1)[:, 0], bunch.target


def describe_clip(cfg: MovingDigitsConfig, index: int) -> dict:
    """The JSON-serialisable record of clip ``index``: digits, their tracks, caption."""
    rng = item_rng(cfg.seed, index, "moving-digits")
    labels = digit_glyphs(cfg.smoothing)[1]
    pool = np.flatnonzero(np.isin(labels, cfg.digits))
    samples = rng.choice(pool, size=object_count(rng, cfg.max_objects, cfg.two_object_prob))
    motions = [str(rng.choice(cfg.motions)) for _ in samples]
    tracks = place_tracks(rng, motions, cfg.track, cfg.frames, cfg.bounce)
    look = {"color": cfg.color, "rgb": list(COLORS[cfg.color])}
    objects = [{"digit": int(labels[s]), "sample": int(s), "motion": m} | look | tr
               for s, m, tr in zip(samples, motions, tracks)]
    text_rng = item_rng(cfg.seed, index, "moving-digits/caption")
    template = captions.random_template(text_rng)
    return {
        "dataset": "moving-digits",
        "objects": objects,
        "background": cfg.background,
        "background_rgb": list(BACKGROUNDS[cfg.background]),
        "caption": captions.caption_objects(objects, template, text_rng),
        "template": template,
    }


def glyph_coverage(samples: list[int], centers: torch.Tensor, boxes: torch.Tensor, corner: torch.Tensor, size,
                   smoothing: float) -> torch.Tensor:
    """Coverage (N, T, Sy, Sx) in [0, 1] of N glyphs whose (padded) box is ``boxes`` px wide,
    sampled bilinearly in their windows (see :func:`cinediff.data.canvas.object_windows`)."""
    n, t = centers.shape[:2]
    x, y = window_offsets(corner, size, centers)
    r = boxes[..., None, None] / 2  # (N, T, 1, 1)
    grid = torch.stack(torch.broadcast_tensors(x / r, y / r), -1)  # (N, T, Sy, Sx, 2) in glyph box units
    glyphs = digit_glyphs(smoothing)[0][samples]  # (N, 40, 40)
    glyphs = glyphs[:, None].expand(n, t, GLYPH_SIZE, GLYPH_SIZE).reshape(n * t, 1, GLYPH_SIZE, GLYPH_SIZE)
    grid = rearrange(grid, "n t h w c -> (n t) h w c")
    alpha = F.grid_sample(glyphs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return rearrange(alpha, "(n t) 1 h w -> n t h w", n=n)


def render_clips(records: list[dict], cfg: MovingDigitsConfig, out: torch.Tensor) -> None:
    """Writes the pixels of clip records into ``out`` (B, 3, T, H, W) in [-1, 1]."""
    objs, clip, order = flatten_objects(records)
    centers, diameters = track_tensors(objs, cfg.frames)
    boxes = diameters * GLYPH_BOX
    corner, size = object_windows(centers, boxes, cfg.height, cfg.width)
    alpha = glyph_coverage([o["sample"] for o in objs], centers, boxes, corner, size, cfg.smoothing)
    fill_background(out, torch.tensor([rgb_to_unit(rec["background_rgb"]) for rec in records]))
    paint_objects(out, clip, order, torch.tensor([rgb_to_unit(o["rgb"]) for o in objs]), alpha, corner)


class MovingDigits(SyntheticClips):
    """The moving-digits data set; ``MovingDigits(bounce=True)`` overrides config fields.

    Items: ``{"video": (3, T, H, W) float32 in [-1, 1], "caption", "fps", "attributes", "index"}``.
    """

    config_class = MovingDigitsConfig
    describe_clip = staticmethod(describe_clip)
    render_clips = staticmethod(render_clips)
