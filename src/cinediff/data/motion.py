"""Object trajectories of the synthetic sets: where an object is, and how big, over a clip.

A *track* is a record with ``start_center``/``end_center`` ``[x, y]`` in pixels (origin at
the frame's top-left corner, pixel ``j`` covers ``[j, j+1)``) and ``start_diameter``/
``end_diameter`` (bounding-box width, px). Position and diameter change linearly in time
from the first frame to the last (sub-pixel), optionally reflecting off the frame border.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from cinediff.data.attributes import DIRECTION_VECTORS


@dataclass
class TrackConfig:
    height: int = 64  # frame H, px
    width: int = 64  # frame W, px
    diameter: tuple[float, float] = (12.0, 24.0)  # object size range, px at 64x64 (scales with min(H, W))
    travel: tuple[float, float] = (0.25, 0.60)  # distance moved over the clip, fraction of the frame
    scale_change: tuple[float, float] = (1.5, 2.0)  # diameter ratio of growing/shrinking (area 2.25-4x)
    margin: float = 1.0  # px kept free at the frame border (anti-aliasing ramp)
    pad: float = 0.0  # extra border margin, fraction of the diameter (soft glyph edges)
    placement_tries: int = 50  # resample several objects until their boxes never touch (1: allow overlap)


def as_track_config(track: TrackConfig | dict, default: TrackConfig, height: int, width: int) -> TrackConfig:
    """``track``, or a dict of overrides of ``default``, with the frame size copied in."""
    base = track if isinstance(track, TrackConfig) else replace(default, **track)
    return replace(base, height=height, width=width)


def _round(x) -> float:
    return round(float(x), 3)


def _reach(diameter: float, cfg: TrackConfig) -> float:
    """Closest distance in px from an object's center to the frame border."""
    return diameter / 2 + cfg.margin + cfg.pad * diameter


def _track(c0, c1, d0: float, d1: float) -> dict:
    return {
        "start_center": [_round(c0[0]), _round(c0[1])],
        "end_center": [_round(c1[0]), _round(c1[1])],
        "start_diameter": _round(d0),
        "end_diameter": _round(d1),
    }


def fit_path(rng: np.random.Generator, lo: float, hi: float, dist: float, sign: int) -> tuple[float, float]:
    """(start, end) of a straight move of ``dist`` (capped at ``hi - lo``) in direction
    ``sign`` (+1 / -1), placed uniformly inside ``[lo, hi]``."""
    dist = min(dist, hi - lo)
    low_end = lo + rng.uniform() * (hi - lo - dist)
    return (low_end, low_end + dist) if sign > 0 else (low_end + dist, low_end)


def translate_track(rng: np.random.Generator, direction: str, cfg: TrackConfig, bounce: bool = False) -> dict:
    """A constant-size object moving ``direction`` by ``travel`` x frame size.

    Without ``bounce`` the travel is capped so that the whole path stays inside the frame;
    with it the object reflects off the borders (Moving MNIST) and the record adds the
    unreflected ``path_end`` and the center ``bounds`` [x_lo, y_lo, x_hi, y_hi].
    """
    d = rng.uniform(*cfg.diameter) * min(cfg.height, cfg.width) / 64
    (dx, dy), axis = DIRECTION_VECTORS[direction], 0 if direction in ("left", "right") else 1
    size = np.array([cfg.width, cfg.height], dtype=float)
    lo, hi = np.full(2, _reach(d, cfg)), size - _reach(d, cfg)
    dist = rng.uniform(*cfg.travel) * size[axis]
    start = rng.uniform(lo, hi)
    end = start + np.array([dx, dy]) * dist
    if not bounce:  # the whole path inside the frame
        start[axis], end[axis] = fit_path(rng, lo[axis], hi[axis], dist, dx + dy)
        return _track(start, end, d, d)
    real_end = reflect(end, lo, hi)
    extra = {"path_end": [_round(end[0]), _round(end[1])], "bounds": [_round(b) for b in (*lo, *hi)]}
    return _track(start, real_end, d, d) | extra


def scale_track(rng: np.random.Generator, motion: str, cfg: TrackConfig) -> dict:
    """An object growing or shrinking in place by a diameter ratio in ``scale_change``."""
    scale = min(cfg.height, cfg.width) / 64
    ratio = rng.uniform(*cfg.scale_change)
    lo_d, hi_d = cfg.diameter[0] * scale, cfg.diameter[1] * scale
    small = rng.uniform(lo_d, max(lo_d, hi_d / ratio))
    large = small * ratio
    center = [rng.uniform(_reach(large, cfg), s - _reach(large, cfg)) for s in (cfg.width, cfg.height)]
    d0, d1 = (small, large) if motion == "growing" else (large, small)
    return _track(center, center, d0, d1)


def sample_track(rng: np.random.Generator, motion: str, cfg: TrackConfig, bounce: bool = False) -> dict:
    """Track of an object with ``motion`` in left/right/up/down/growing/shrinking."""
    if motion in DIRECTION_VECTORS:
        return translate_track(rng, motion, cfg, bounce)
    return scale_track(rng, motion, cfg)


def frame_times(frames: int) -> np.ndarray:
    """(T,) times in [0, 1]: 0 at the first frame, 1 at the last."""
    return np.linspace(0.0, 1.0, frames) if frames > 1 else np.zeros(1)


def reflect(x, lo, hi):
    """Folds ``x`` into ``[lo, hi]`` like a ball bouncing between walls (triangle wave).

    Works on numpy arrays and torch tensors: ``min(u, p - u) = (p - |2u - p|) / 2``.
    """
    period = 2 * (hi - lo)
    u = (x - lo) % period
    return lo + (period - abs(2 * u - period)) / 2


def _stack(tracks: list[dict], key: str, default: str | None = None) -> np.ndarray:
    return np.array([tr[key] if key in tr else tr[default] for tr in tracks], dtype=np.float64)


def track_arrays(tracks: list[dict], frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Centers (N, T, 2) [x, y] px and diameters (N, T) px of ``tracks`` at every frame (float64)."""
    t = frame_times(frames)[None, :]  # (1, T)
    c0 = _stack(tracks, "start_center")[:, None]  # (N, 1, 2)
    c1 = _stack(tracks, "path_end", "end_center")[:, None]
    d0, d1 = _stack(tracks, "start_diameter")[:, None], _stack(tracks, "end_diameter")[:, None]  # (N, 1)
    centers = c0 + (c1 - c0) * t[..., None]
    bouncing = [i for i, tr in enumerate(tracks) if "bounds" in tr]
    if bouncing:
        bounds = _stack([tracks[i] for i in bouncing], "bounds")[:, None]  # (n, 1, 4)
        centers[bouncing] = reflect(centers[bouncing], bounds[..., :2], bounds[..., 2:])
    return centers, d0 + (d1 - d0) * t


def track_tensors(tracks: list[dict], frames: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`track_arrays` as float32 tensors: centers (N, T, 2), diameters (N, T)."""
    centers, diameters = track_arrays(tracks, frames)
    return torch.from_numpy(centers).float(), torch.from_numpy(diameters).float()


def tracks_overlap(a: dict, b: dict, frames: int, gap: float = 1.0) -> bool:
    """True when the bounding boxes of two tracks come closer than ``gap`` px in any frame."""
    centers, diameters = track_arrays([a, b], frames)
    reach = diameters.sum(0) / 2 + gap  # (T,)
    apart = np.abs(centers[0] - centers[1])  # (T, 2)
    return bool(((apart[:, 0] < reach) & (apart[:, 1] < reach)).any())


def place_tracks(rng: np.random.Generator, motions: list[str], cfg: TrackConfig, frames: int,
                 bounce: bool = False) -> list[dict]:
    """Tracks for objects with ``motions``, resampled until no two bounding boxes ever touch
    (after ``cfg.placement_tries`` the last sample is kept: large objects may have no room)."""
    for _ in range(max(1, cfg.placement_tries)):
        tracks = [sample_track(rng, motion, cfg, bounce) for motion in motions]
        pairs = [(a, b) for i, a in enumerate(tracks) for b in tracks[i + 1 :]]
        if not any(tracks_overlap(a, b, frames) for a, b in pairs):
            break
    return tracks
