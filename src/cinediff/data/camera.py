"""camera-moves: Ken Burns pans and zooms over the photographs bundled with scikit-image.

A clip is a window sliding over (pan) or shrinking/growing on (zoom) one photo, sampled
with bilinear ``grid_sample`` (align_corners=False) at every frame. "The camera pans
left" means the window moves left over the photo, so the content moves right in the frame.
Windows are recorded as ``[cx, cy, w, h]`` in fractions of the photo's width and height.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from cinediff.data import captions
from cinediff.data.motion import fit_path, frame_times
from cinediff.data.rng import item_rng
from cinediff.data.synthetic import SyntheticClips

# skimage.data loader -> caption subject (no ", " inside: captions end with ", <camera move>").
PHOTOS: dict[str, str] = {
    "astronaut": "a photo of an astronaut",
    "chelsea": "a photo of a cat",
    "coffee": "a photo of a cup of coffee",
    "rocket": "a photo of a rocket on its launch pad",
    "hubble_deep_field": "a photo of galaxies in deep space",
    "immunohistochemistry": "a microscope photo of stained tissue",
    "camera": "a black-and-white photo of a cameraman",
    "coins": "a black-and-white photo of old coins",
    "moon": "a black-and-white photo of the surface of the moon",
    "brick": "a black-and-white photo of a brick wall",
    "grass": "a black-and-white photo of grass",
    "gravel": "a black-and-white photo of gravel",
}

CAMERA_MOVES = ("pan_left", "pan_right", "pan_up", "pan_down", "zoom_in", "zoom_out")
# Window displacement of each pan, image coordinates (y down); content moves the other way.
PAN_VECTORS = {"pan_left": (-1, 0), "pan_right": (1, 0), "pan_up": (0, -1), "pan_down": (0, 1)}
CONTENT_MOTION = {"pan_left": "right", "pan_right": "left", "pan_up": "down", "pan_down": "up",
                  "zoom_in": "growing", "zoom_out": "shrinking"}
OVERSAMPLE = 2.0  # photo px per output px in the largest window (less aliasing than 1:1)


@dataclass
class CameraMovesConfig:
    frames: int = 16  # T
    height: int = 64  # H, px
    width: int = 64  # W, px
    fps: float = 8.0  # playback rate stored with every clip
    photos: tuple[str, ...] = tuple(PHOTOS)  # skimage.data names (keys of PHOTOS)
    moves: tuple[str, ...] = CAMERA_MOVES  # allowed camera moves
    pan_window: tuple[float, float] = (0.5, 0.8)  # pan window size, fraction of the largest window
    pan_travel: tuple[float, float] = (0.25, 0.6)  # pan distance, fraction of the window size
    zoom_window: tuple[float, float] = (0.8, 1.0)  # widest zoom window, fraction of the largest window
    zoom_factor: tuple[float, float] = (1.5, 2.0)  # width ratio of widest to narrowest window (area 2.25-4x)
    seed: int = 0  # clip i depends on (seed, i) only
    length: int = 10_000  # clips in the index space


@functools.lru_cache(maxsize=None)
def load_photo(name: str) -> torch.Tensor:
    """A scikit-image sample photo as (3, H, W) float32 in [-1, 1] (gray -> 3 channels)."""
    import skimage.data

    image = torch.from_numpy(np.asarray(getattr(skimage.data, name)())).float()
    image = image[..., None].expand(*image.shape, 3) if image.ndim == 2 else image[..., :3]
    return rearrange(image, "h w c -> c h w") / 127.5 - 1


def largest_window(photo_hw: tuple[int, int], out_hw: tuple[int, int]) -> tuple[float, float]:
    """(w, h) fractions of the photo of the largest window with the output's aspect ratio."""
    (ph, pw), (h, w) = photo_hw, out_hw
    width_px = min(pw, ph * w / h)
    return width_px / pw, width_px * h / w / ph


@functools.lru_cache(maxsize=64)
def prepared_photo(name: str, height: int, width: int) -> torch.Tensor:
    """The photo (1, 3, h, w) downscaled (antialiased) so the largest window is
    ``OVERSAMPLE`` x the output size."""
    photo = load_photo(name)
    scale = OVERSAMPLE * width / (largest_window(photo.shape[1:], (height, width))[0] * photo.shape[2])
    if scale >= 1:
        return photo[None]
    size = (max(1, round(photo.shape[1] * scale)), max(1, round(photo.shape[2] * scale)))
    return F.interpolate(photo[None], size=size, mode="bilinear", antialias=True, align_corners=False)


def _window(cx, cy, w, h) -> list[float]:
    return [round(float(v), 5) for v in (cx, cy, w, h)]


def pan_windows(rng: np.random.Generator, move: str, full: tuple[float, float],
                cfg: CameraMovesConfig) -> tuple[list, list]:
    """Start/end windows of a pan: a fixed-size window moving by ``pan_travel`` of its size."""
    frac = rng.uniform(*cfg.pan_window)
    size = np.array(full) * frac  # (w, h)
    axis = 0 if move in ("pan_left", "pan_right") else 1
    dist = rng.uniform(*cfg.pan_travel) * size[axis]
    start = rng.uniform(size / 2, 1 - size / 2)
    end = start.copy()
    start[axis], end[axis] = fit_path(rng, size[axis] / 2, 1 - size[axis] / 2, dist, sum(PAN_VECTORS[move]))
    return _window(*start, *size), _window(*end, *size)


def zoom_windows(rng: np.random.Generator, move: str, full: tuple[float, float],
                 cfg: CameraMovesConfig) -> tuple[list, list]:
    """Start/end windows of a zoom: a fixed center, the width shrinking (in) or growing (out)."""
    wide = np.array(full) * rng.uniform(*cfg.zoom_window)
    narrow = wide / rng.uniform(*cfg.zoom_factor)
    center = rng.uniform(wide / 2, 1 - wide / 2)
    first, last = (wide, narrow) if move == "zoom_in" else (narrow, wide)
    return _window(*center, *first), _window(*center, *last)


def describe_clip(cfg: CameraMovesConfig, index: int) -> dict:
    """The JSON-serialisable record of clip ``index``: photo, move, windows, caption."""
    rng = item_rng(cfg.seed, index, "camera-moves")
    photo, move = cfg.photos[rng.integers(len(cfg.photos))], cfg.moves[rng.integers(len(cfg.moves))]
    full = largest_window(load_photo(photo).shape[1:], (cfg.height, cfg.width))
    start, end = (pan_windows if move in PAN_VECTORS else zoom_windows)(rng, move, full, cfg)
    template = captions.random_template(item_rng(cfg.seed, index, "camera-moves/caption"), camera=True)
    return {
        "dataset": "camera-moves",
        "photo": photo,
        "subject": PHOTOS[photo],
        "camera": move,
        "content_motion": CONTENT_MOTION[move],
        "start_window": start,
        "end_window": end,
        "caption": captions.caption_camera(PHOTOS[photo], move, template),
        "template": template,
    }


def window_grid(records: list[dict], frames: int, height: int, width: int) -> torch.Tensor:
    """``grid_sample`` grid (B, T, H, W, 2) in [-1, 1] photo coordinates.

    Windows move linearly; zooms interpolate the width geometrically so that the apparent
    zoom speed is constant.
    """
    t = torch.from_numpy(frame_times(frames)).float()[None, :, None]  # (1, T, 1)
    w0, w1 = (torch.tensor([r[k] for r in records])[:, None] for k in ("start_window", "end_window"))  # (B, 1, 4)
    center = w0[..., :2] + (w1[..., :2] - w0[..., :2]) * t  # (B, T, 2)
    size = w0[..., 2:] * (w1[..., 2:] / w0[..., 2:]) ** t  # (B, T, 2)
    u = (torch.arange(width) + 0.5) / width - 0.5  # output pixel centers, window-relative
    v = (torch.arange(height) + 0.5) / height - 0.5
    x = center[..., 0, None, None] + size[..., 0, None, None] * u[None, None, None, :]  # (B, T, 1, W)
    y = center[..., 1, None, None] + size[..., 1, None, None] * v[None, None, :, None]  # (B, T, H, 1)
    return torch.stack(torch.broadcast_tensors(2 * x - 1, 2 * y - 1), -1)


def render_clips(records: list[dict], cfg: CameraMovesConfig, out: torch.Tensor) -> None:
    """Writes the pixels of clip records into ``out`` (B, 3, T, H, W) in [-1, 1]."""
    grid = window_grid(records, cfg.frames, cfg.height, cfg.width)
    for photo in {r["photo"] for r in records}:
        sel = [b for b, r in enumerate(records) if r["photo"] == photo]
        stacked = rearrange(grid[sel], "b t h w c -> 1 (b t h) w c")  # one grid_sample per photo
        photo_px = prepared_photo(photo, cfg.height, cfg.width)  # (1, 3, h, w)
        pixels = F.grid_sample(photo_px, stacked, mode="bilinear", padding_mode="border", align_corners=False)
        out[sel] = rearrange(pixels, "1 c (b t h) w -> b c t h w", b=len(sel), t=cfg.frames)


class CameraMoves(SyntheticClips):
    """The camera-moves data set; ``CameraMoves(moves=("zoom_in",))`` overrides config fields.

    Items: ``{"video": (3, T, H, W) float32 in [-1, 1], "caption", "fps", "attributes", "index"}``.
    """

    config_class = CameraMovesConfig
    describe_clip = staticmethod(describe_clip)
    render_clips = staticmethod(render_clips)
