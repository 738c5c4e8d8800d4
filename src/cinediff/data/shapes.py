"""moving-shapes: one or two flat colored shapes moving on a plain background (DATA.md).

Clip ``i`` is a pure function of ``(seed, split, i)``. Each object is rendered from its
signed distance function on the pixel grid, for all frames and clips at once, with a 1-px
anti-aliased edge, and composited over the background in caption order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from cinediff.data import captions
from cinediff.data.attributes import (
    BACKGROUNDS,
    COLORS,
    DEFAULT_HELD_OUT,
    MOTIONS,
    SHAPES,
    is_held_out,
    normalize_combo,
    rgb_to_unit,
)
from cinediff.data.canvas import fill_background, flatten_objects, object_windows, paint_objects, window_offsets
from cinediff.data.motion import TrackConfig, as_track_config, place_tracks, track_tensors
from cinediff.data.rng import item_rng
from cinediff.data.sdf import SDFS, coverage
from cinediff.data.synthetic import SyntheticClips, bench, object_count

SPLITS = ("train", "heldout", "all")
MAX_TRIES = 1000  # attribute resampling (held-out rule) before giving up


@dataclass
class MovingShapesConfig:
    frames: int = 16  # T
    height: int = 64  # H, px
    width: int = 64  # W, px
    fps: float = 8.0  # playback rate stored with every clip
    max_objects: int = 2  # 1 or 2 objects per clip
    two_object_prob: float = 0.3  # P(two objects) when max_objects == 2
    background: str = "black"  # "black" (20,20,20) | "gray" (128,128,128) | "random" (per clip)
    colors: tuple[str, ...] = tuple(COLORS)  # allowed colors (names in attributes.COLORS)
    shapes: tuple[str, ...] = SHAPES  # allowed shapes
    motions: tuple[str, ...] = MOTIONS  # allowed motions
    held_out: list[dict] = field(default_factory=lambda: [dict(c) for c in DEFAULT_HELD_OUT])  # partial attribute dicts
    split: str = "train"  # "train": no held-out combination | "heldout": only clips with one | "all"
    seed: int = 0  # clip i depends on (seed, split, i) only
    length: int = 10_000  # clips in the index space
    track: TrackConfig | dict = field(default_factory=TrackConfig)  # sizes, travel, growth (or a dict of overrides)
    captions: str = "base"  # caption vocabulary: "base" templates and synonyms | "wide" (more words, sentence forms)
    #                         | "rich" (wide + ten words per colour)
    exchanged_captions: str = ""  # "motion" | "shape" | "color": records also carry "exchanged_caption", the caption
    #                               with the two objects' attribute exchanged (None where not two that differ)

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if self.background not in (*BACKGROUNDS, "random"):
            raise ValueError(f"background must be one of {(*BACKGROUNDS, 'random')}, got {self.background!r}")
        captions.object_templates(self.captions)  # checks the vocabulary's name
        if self.exchanged_captions not in ("", *EXCHANGEABLE):
            raise ValueError(f"exchanged_captions must be one of {('', *EXCHANGEABLE)}, got {self.exchanged_captions!r}")
        self.held_out = [normalize_combo(c) for c in self.held_out]
        self.track = as_track_config(self.track, TrackConfig(), self.height, self.width)


# ---------------------------------------------------------------- attributes


def _pick(rng: np.random.Generator, choices) -> str:
    return choices[rng.integers(len(choices))]


def sample_identity(rng: np.random.Generator, cfg: MovingShapesConfig, colors, allow_held_out: bool) -> dict:
    """Color, shape and motion of one object; resampled until not held out if required."""
    for _ in range(MAX_TRIES):
        obj = {"color": _pick(rng, colors), "shape": _pick(rng, cfg.shapes), "motion": _pick(rng, cfg.motions)}
        if allow_held_out or not is_held_out(obj, cfg.held_out):
            return obj
    raise ValueError(f"every allowed object is held out by {cfg.held_out}")


def sample_held_out_identity(rng: np.random.Generator, cfg: MovingShapesConfig) -> dict:
    """An object matching one held-out combination (the other attributes random)."""
    if not cfg.held_out:
        raise ValueError("split='heldout' needs a non-empty held_out list")
    combo = cfg.held_out[rng.integers(len(cfg.held_out))]
    obj = {"color": _pick(rng, cfg.colors), "shape": _pick(rng, cfg.shapes), "motion": _pick(rng, cfg.motions)}
    return obj | combo


def sample_identities(rng: np.random.Generator, cfg: MovingShapesConfig) -> list[dict]:
    """1 or 2 objects with different colors, respecting the split's held-out rule."""
    count = object_count(rng, cfg.max_objects, cfg.two_object_prob)
    first = sample_held_out_identity(rng, cfg) if cfg.split == "heldout" else None
    objects = [first] if first else []
    while len(objects) < count:
        colors = [c for c in cfg.colors if c not in {o["color"] for o in objects}]
        objects.append(sample_identity(rng, cfg, colors, allow_held_out=cfg.split != "train"))
    if rng.random() < 0.5:  # the held-out object is not always named first
        objects.reverse()
    return objects


def caption_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random stream clip ``index``'s caption draws its template and synonyms from."""
    return item_rng(seed, index, f"moving-shapes/{split}/caption")


def write_caption(objects: list[dict], vocabulary: str, rng: np.random.Generator) -> tuple[str, int]:
    """(caption, template id) of ``objects`` from a clip's caption stream (:func:`caption_rng`): the
    template is its first draw, the words the next ones."""
    template = captions.random_template(rng, vocabulary=vocabulary)
    return captions.caption_objects(objects, template, rng, vocabulary), template


EXCHANGEABLE = ("motion", "shape", "color")


def exchanged_objects(objects: list[dict], attribute: str) -> list[dict] | None:
    """Two objects with their ``attribute`` exchanged (a caption of the same words bound the other
    way); None unless there are two objects that differ in it."""
    if len(objects) != 2 or objects[0][attribute] == objects[1][attribute]:
        return None
    first, second = objects
    return [first | {attribute: second[attribute]}, second | {attribute: first[attribute]}]


def describe_clip(cfg: MovingShapesConfig, index: int) -> dict:
    """The JSON-serialisable record of clip ``index``: objects, background, caption."""
    rng = item_rng(cfg.seed, index, f"moving-shapes/{cfg.split}")
    background = _pick(rng, tuple(BACKGROUNDS)) if cfg.background == "random" else cfg.background
    identities = sample_identities(rng, cfg)
    tracks = place_tracks(rng, [obj["motion"] for obj in identities], cfg.track, cfg.frames)
    objects = [obj | {"rgb": list(COLORS[obj["color"]])} | tr for obj, tr in zip(identities, tracks)]
    caption, template = write_caption(objects, cfg.captions, caption_rng(cfg.seed, cfg.split, index))  # never moves pixels
    record = {
        "dataset": "moving-shapes",
        "objects": objects,
        "background": background,
        "background_rgb": list(BACKGROUNDS[background]),
        "caption": caption,
        "template": template,
        "vocabulary": cfg.captions,
        "heldout": any(is_held_out(o, cfg.held_out) for o in objects),
    }
    if cfg.exchanged_captions:  # same template and synonyms: the caption's own stream, drawn again
        exchanged = exchanged_objects(objects, cfg.exchanged_captions)
        record["exchanged_caption"] = None if exchanged is None else \
            write_caption(exchanged, cfg.captions, caption_rng(cfg.seed, cfg.split, index))[0]
    return record


# ---------------------------------------------------------------- pixels


def object_coverage(shapes: list[str], centers: torch.Tensor, diameters: torch.Tensor, corner: torch.Tensor,
                    size) -> torch.Tensor:
    """Anti-aliased coverage (N, T, Sy, Sx) in [0, 1] of N objects inside their windows.

    centers (N, T, 2) [x, y] px, diameters (N, T) px, window corners (N, T, 2) and size
    (Sx, Sy) from :func:`~cinediff.data.canvas.object_windows`.
    """
    x, y = window_offsets(corner, size, centers)
    r = diameters[..., None, None] / 2  # (N, T, 1, 1)
    alpha = torch.empty(len(shapes), centers.shape[1], size[1], size[0])
    for name, sdf in SDFS.items():
        sel = torch.tensor([s == name for s in shapes])
        if sel.any():
            alpha[sel] = coverage(sdf(x[sel], y[sel], r[sel]))
    return alpha


def render_clips(records: list[dict], cfg: MovingShapesConfig, out: torch.Tensor) -> None:
    """Writes the pixels of clip records into ``out`` (B, 3, T, H, W) in [-1, 1], objects
    painted in caption order."""
    objs, clip, order = flatten_objects(records)
    centers, diameters = track_tensors(objs, cfg.frames)
    corner, size = object_windows(centers, diameters, cfg.height, cfg.width)
    alpha = object_coverage([o["shape"] for o in objs], centers, diameters, corner, size)
    fill_background(out, torch.tensor([rgb_to_unit(rec["background_rgb"]) for rec in records]))
    paint_objects(out, clip, order, torch.tensor([rgb_to_unit(o["rgb"]) for o in objs]), alpha, corner)


class MovingShapes(SyntheticClips):
    """The moving-shapes data set; ``MovingShapes(split="heldout")`` overrides config fields.

    Items: ``{"video": (3, T, H, W) float32 in [-1, 1], "caption", "fps", "attributes", "index"}``.
    """

    config_class = MovingShapesConfig
    describe_clip = staticmethod(describe_clip)
    render_clips = staticmethod(render_clips)


def bench_moving_shapes(n: int = 1000, **overrides) -> float:
    """Clips per second rendering ``n`` clips (default 16x64x64) with ``render_batch``."""
    return bench(MovingShapes(length=max(n, 8), **overrides), n)
