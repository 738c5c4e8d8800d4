"""Text-video alignment judge for moving-shapes prompts: is the named object there, with the
named color, shape and motion?

Measurements on a video (C, T, H, W) in [-1, 1], in 0..255 RGB units:

1. background: per-channel median of the border pixels of all frames;
2. labels: after a 3x3 box filter (suppresses noise), a pixel farther than ``FOREGROUND``
   from the background belongs to the palette color whose line background -> color passes
   closest (anti-aliased or blurred edges are blends on that line, so they keep the
   object's color instead of snapping to a darker palette entry);
3. objects: palette colors covering at least ``MIN_OBJECT`` of the frame on average with
   the pixels connected to a solid one (alpha > ``SOLID``); each prompt object is matched
   to its own color if present, else to the largest unclaimed one;
4. coverage alpha of each pixel labelled with an object's color: its position on the line
   (not clamped, so that noise averages out in sums; clamped to [0, 1] for maxima);
5. motion: centroid and area of alpha in every frame; a straight line fitted over time
   gives the displacement and the end/start area ratio (growing/shrinking, else the
   dominant direction of the displacement);
6. shape, from normalised central moments of alpha (sums, so noise averages out, and
   nearly unchanged by blur): an upright triangle has vertical skewness m03 / m02^1.5 =
   -2 sqrt(2) / 5 = -0.57, circles and squares 0; then m22 / (m20 m02) is 1 for a square
   (x and y independent, also after any separable blur) and 2/3 for a disc. The fill ratio
   area / bounding box (circle pi/4, square 1, triangle 1/2) is reported too, but blur
   raises a triangle's towards a circle's and noise lowers a square's, so it only informs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from cinediff.data.attributes import COLORS
from cinediff.data.captions import parse_caption
from cinediff.models.composition import border_background

ATTRIBUTES = ("color", "shape", "motion", "count")
FOREGROUND = 40.0  # distance to the background (0..255 RGB, after 3x3 smoothing) of object pixels
MIN_OBJECT = 0.004  # mean fraction of the frame a color must cover to count as an object
SOLID = 0.6  # smoothed alpha of the pixels an object's mask must connect to
TRIANGLE_SKEW = 0.28  # |vertical skewness| above which a shape is a triangle (half of its 0.57)
SQUARE_M22 = 0.82  # m22 / (m20 m02) above which a non-triangle is a square (1), not a disc (2/3)
SCALE_RATIO = 1.5  # end/start area ratio beyond which an object grows or shrinks ...
SCALE_SHIFT = 0.35  # ... if its centroid moves less than this times sqrt(its largest area)
STATIC_SHIFT = 0.05  # displacement below this fraction of the frame size: "static"

_PALETTE = torch.tensor(list(COLORS.values()), dtype=torch.float32)  # (K, 3)
_NAMES = list(COLORS)


# ---------------------------------------------------------------- pixels -> color layers


def to_rgb(video: torch.Tensor) -> torch.Tensor:
    """(C, T, H, W) in [-1, 1] -> (T, 3, H, W) float32 in 0..255 (gray repeated to RGB)."""
    video = video.detach().float().cpu()
    video = video.expand(3, -1, -1, -1) if video.shape[0] == 1 else video
    return (video.permute(1, 0, 2, 3) + 1) * 127.5


def estimate_background(rgb: torch.Tensor) -> torch.Tensor:
    """Per-channel median of the border pixels of all frames of ``rgb`` (T, 3, H, W) -> (3,)."""
    return border_background(rgb.transpose(0, 1))


def smooth(rgb: torch.Tensor) -> torch.Tensor:
    """3x3 box filter of each frame, edges replicated."""
    return F.avg_pool2d(F.pad(rgb, (1, 1, 1, 1), mode="replicate"), 3, stride=1)


def color_labels(smoothed: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Palette index (T, H, W) of every pixel of ``smoothed`` (T, 3, H, W), -1 for background."""
    q = smoothed - background[:, None, None]  # (T, 3, H, W)
    foreground = (q * q).sum(1) > FOREGROUND**2  # (T, H, W)
    q = q.permute(0, 2, 3, 1)[foreground]  # (n, 3)
    lines = _PALETTE - background  # (K, 3)
    norm2 = (lines * lines).sum(1)  # (K,)
    dot = q @ lines.T  # (n, K)
    alpha = (dot / norm2).clamp(min=0)  # position on each line background -> color
    residual2 = (q * q).sum(1, keepdim=True) - 2 * alpha * dot + alpha**2 * norm2  # |q - alpha line|^2
    labels = torch.full(foreground.shape, -1, dtype=torch.long)
    labels[foreground] = residual2.argmin(-1)
    return labels


def coverage(rgb: torch.Tensor, background: torch.Tensor, color: int, mask: torch.Tensor) -> torch.Tensor:
    """Alpha (T, H, W) of palette ``color`` over the background (not clamped), 0 outside ``mask``."""
    line = _PALETTE[color] - background
    return torch.einsum("tchw,c->thw", rgb - background[:, None, None], line) / line.dot(line) * mask


def grow_within(seed: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The pixels of ``mask`` (T, H, W) connected (8-neighbours, per frame) to ``seed``."""
    region = seed & mask
    while True:
        grown = F.max_pool2d(region[:, None].float(), 3, stride=1, padding=1)[:, 0].bool() & mask
        if torch.equal(grown, region):
            return region
        region = grown


def object_masks(labels: torch.Tensor, smoothed: torch.Tensor, background: torch.Tensor) -> dict[int, torch.Tensor]:
    """{palette index: mask (T, H, W)} of the colors covering >= ``MIN_OBJECT`` of the frame on
    average, largest first. A mask keeps only pixels connected to a solid one (smoothed alpha
    > ``SOLID``): blurred, noisy edges of one object can pass for a nearby palette color."""
    masks = {}
    for k in labels.unique().tolist():
        mask = labels == k
        if k < 0 or mask.float().mean() < MIN_OBJECT:
            continue
        mask = grow_within(coverage(smoothed, background, k, mask) > SOLID, mask)
        if mask.float().mean() >= MIN_OBJECT:
            masks[k] = mask
    return dict(sorted(masks.items(), key=lambda item: -int(item[1].sum())))


def match_colors(expected: Sequence[str | None], detected: Sequence[int]) -> list[int | None]:
    """The detected color judged as each prompt object: its own color if detected, else the
    largest one no other prompt object claims (None when none is left)."""
    claimed = {_NAMES.index(c) for c in expected if c in COLORS and _NAMES.index(c) in detected}
    spare = [k for k in detected if k not in claimed]
    out = []
    for c in expected:
        if c in COLORS and _NAMES.index(c) in detected:
            out.append(_NAMES.index(c))
        else:
            out.append(spare.pop(0) if spare else None)
    return out


# ---------------------------------------------------------------- one object's alpha -> shape, motion


def _large_frames(area: torch.Tensor) -> torch.Tensor:
    """Frames (bool, (T,)) where the object shows at least half its largest area."""
    return (area > 1) & (area >= area.max() / 2)


def fill_ratio(alpha: torch.Tensor, alpha_smooth: torch.Tensor) -> float:
    """Median of area / bounding box over the large frames of an object; the area is the sum
    of ``alpha`` (T, H, W), the box sides sums of the per-column (per-row) maximum of
    ``alpha_smooth`` clamped to [0, 1] (less noise in the maxima)."""
    area, clamped = alpha.sum((1, 2)), alpha_smooth.clamp(0, 1)
    width, height = clamped.amax(1).sum(-1), clamped.amax(2).sum(-1)
    large = _large_frames(area)
    return float((area[large] / (width[large] * height[large])).median()) if large.any() else float("nan")


def shape_moments(alpha: torch.Tensor) -> dict[str, float]:
    """Medians over the large frames of ``alpha`` (T, H, W) of two normalised central moments:
    ``skew`` = m03 / m02^1.5 and ``m22`` = m22 / (m20 m02)."""
    _, h, w = alpha.shape
    area = alpha.sum((1, 2))
    large = _large_frames(area)
    if not large.any():
        return {"skew": float("nan"), "m22": float("nan")}
    a, area = alpha[large], area[large, None, None]
    x, y = torch.arange(w) + 0.5, (torch.arange(h) + 0.5)[:, None]
    x = x - (a * x).sum((1, 2), keepdim=True) / area  # (n, 1, W) centred on each frame's centroid
    y = y - (a * y).sum((1, 2), keepdim=True) / area  # (n, H, 1)

    def moment(p: int, q: int) -> torch.Tensor:
        return (a * x**p * y**q).sum((1, 2)) / area[:, 0, 0]

    m20, m02 = moment(2, 0).clamp(min=1e-6), moment(0, 2).clamp(min=1e-6)
    return {"skew": float((moment(0, 3) / m02**1.5).median()),
            "m22": float((moment(2, 2) / (m20 * m02)).median())}


def classify_shape(skew: float, m22: float) -> str | None:
    """triangle if ``|skew|`` > ``TRIANGLE_SKEW``, else square if ``m22`` > ``SQUARE_M22``, else circle."""
    if not (math.isfinite(skew) and math.isfinite(m22)):
        return None
    if abs(skew) > TRIANGLE_SKEW:
        return "triangle"
    return "square" if m22 > SQUARE_M22 else "circle"


def fit_track(alpha: torch.Tensor) -> dict | None:
    """Straight-line fit over time t in [0, 1] of the centroid [x, y] px and log area of
    ``alpha`` (T, H, W): displacement first -> last frame, area ratio last / first."""
    t_len, h, w = alpha.shape
    area = alpha.sum((1, 2))
    seen = area > 1
    if seen.sum() < 2:
        return None
    ys, xs = torch.arange(h) + 0.5, torch.arange(w) + 0.5
    cx = (alpha.sum(1) * xs).sum(-1) / area.clamp(min=1e-6)
    cy = (alpha.sum(2) * ys).sum(-1) / area.clamp(min=1e-6)
    t = torch.linspace(0, 1, t_len)[seen]
    y = torch.stack([cx[seen], cy[seen], area[seen].log()], 1)  # (n, 3)
    design = torch.stack([torch.ones_like(t), t], 1)  # (n, 2)
    slope = torch.linalg.lstsq(design, y).solution[1]  # (3,)
    return {"shift": [float(slope[0]), float(slope[1])], "area_ratio": float(slope[2].exp()),
            "area": float(area.max())}


def classify_motion(track: dict | None, size: int) -> str | None:
    """growing / shrinking (area ratio beyond ``SCALE_RATIO``, small shift), else the
    dominant direction of the shift, or "static"."""
    if track is None:
        return None
    dx, dy = track["shift"]
    shift, ratio = math.hypot(dx, dy), track["area_ratio"]
    if max(ratio, 1 / ratio) > SCALE_RATIO and shift < SCALE_SHIFT * math.sqrt(track["area"]):
        return "growing" if ratio > 1 else "shrinking"
    if shift < STATIC_SHIFT * size:
        return "static"
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


# ---------------------------------------------------------------- judging


def _verdict(predicted: list, expected: list) -> dict:
    named = [(p, e) for p, e in zip(predicted, expected) if e is not None]
    correct = all(p == e for p, e in named) if named else None
    return {"predicted": predicted, "expected": expected, "correct": correct}


def measure_object(rgb: torch.Tensor, smoothed: torch.Tensor, background: torch.Tensor,
                   color: int, mask: torch.Tensor) -> dict:
    """Fill ratio, shape moments and fitted track of the object of palette ``color``."""
    alpha = coverage(rgb, background, color, mask)
    fill = fill_ratio(alpha, coverage(smoothed, background, color, mask))
    return {"fill": fill, **shape_moments(alpha), "track": fit_track(alpha)}


def judge_video(video: torch.Tensor, prompt: str) -> dict:
    """Judge one video (C, T, H, W) in [-1, 1] against a moving-shapes prompt.

    Returns ``{attribute: {"predicted": [...], "expected": [...], "correct": bool | None}}``
    for color, shape and motion (one entry per prompt object, in prompt order; ``correct``
    is None when the prompt names the attribute for no object) and count (numbers of
    objects), plus ``"measured"``: per object the fill ratio, moments and fitted track.
    """
    objects = parse_caption(prompt).get("objects")
    if not objects:
        raise ValueError(f"not a moving-shapes prompt: {prompt!r}")
    rgb = to_rgb(video)
    background = estimate_background(rgb)
    smoothed = smooth(rgb)
    labels = color_labels(smoothed, background)
    masks = object_masks(labels, smoothed, background)
    matched = match_colors([o.get("color") for o in objects], list(masks))
    empty = {"fill": float("nan"), "skew": float("nan"), "m22": float("nan"), "track": None}
    measured = [measure_object(rgb, smoothed, background, k, masks[k]) if k is not None else empty
                for k in matched]
    size = min(rgb.shape[-2:])
    return {
        "color": _verdict([_NAMES[k] if k is not None else None for k in matched], [o.get("color") for o in objects]),
        "shape": _verdict([classify_shape(m["skew"], m["m22"]) for m in measured], [o.get("shape") for o in objects]),
        "motion": _verdict([classify_motion(m["track"], size) for m in measured], [o.get("motion") for o in objects]),
        "count": _verdict([len(masks)], [len(objects)]),
        "measured": measured,
    }


def judge_batch(videos: torch.Tensor | Sequence[torch.Tensor], prompts: Sequence[str]) -> dict[str, float]:
    """Accuracy of each attribute over videos (B, C, T, H, W) and their prompts, plus
    ``"all"`` (every judged attribute of the video correct) and ``"n"`` (videos)."""
    if len(videos) != len(prompts):
        raise ValueError(f"{len(videos)} videos but {len(prompts)} prompts")
    verdicts = [judge_video(v, p) for v, p in zip(videos, prompts)]
    return verdict_accuracy(verdicts) | {"n": len(verdicts)}


def verdict_accuracy(verdicts: Sequence[dict]) -> dict[str, float]:
    """Accuracy of each attribute over :func:`judge_video` verdicts (NaN where no prompt names
    it) and ``"all"``: the fraction of videos with no judged attribute wrong."""
    out = {}
    for name in ATTRIBUTES:
        judged = [v[name]["correct"] for v in verdicts if v[name]["correct"] is not None]
        out[name] = sum(judged) / len(judged) if judged else float("nan")
    out["all"] = sum(all(v[a]["correct"] is not False for a in ATTRIBUTES) for v in verdicts) / max(len(verdicts), 1)
    return out
