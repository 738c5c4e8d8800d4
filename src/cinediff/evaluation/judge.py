"""Text-video alignment judge for moving-shapes prompts: is the named object there, with the
named color, shape and motion?

Measurements on a video (C, T, H, W) in [-1, 1], in 0..255 RGB units:

1. background: per-channel median of the border pixels of all frames;
2. labels: after a 3x3 box filter (suppresses noise), a pixel farther than ``FOREGROUND``
   from the background belongs to the palette color whose line background -> color passes
   closest (anti-aliased or blurred edges are blends on that line, so they keep the
   object's color instead of snapping to a darker palette entry);
3. coverage alpha of each labelled pixel: its position on that line, in [0, 1];
4. objects: palette colors covering at least ``MIN_OBJECT`` of the frame on average; each
   prompt object is matched to its own color if present, else to the largest unclaimed one;
5. per object, from its alpha: the centroid and area in every frame (a straight line
   fitted over time gives the displacement and the end/start area ratio -> motion), and
   the fill ratio area / bounding box (circle pi/4, square 1, triangle 1/2 -> shape).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from cinediff.data.attributes import COLORS
from cinediff.data.captions import parse_caption

ATTRIBUTES = ("color", "shape", "motion", "count")
FOREGROUND = 40.0  # distance to the background (0..255 RGB, after 3x3 smoothing) of object pixels
MIN_OBJECT = 0.004  # mean fraction of the frame a color must cover to count as an object
FILL = {"triangle": 0.5, "circle": math.pi / 4, "square": 1.0}  # area / bounding box of each shape
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
    border = torch.cat([rgb[..., 0, :], rgb[..., -1, :], rgb[..., :, 0], rgb[..., :, -1]], dim=-1)  # (T, 3, P)
    return border.permute(1, 0, 2).reshape(3, -1).median(dim=1).values


def smooth(rgb: torch.Tensor) -> torch.Tensor:
    """3x3 box filter of each frame, edges replicated."""
    return F.avg_pool2d(F.pad(rgb, (1, 1, 1, 1), mode="replicate"), 3, stride=1)


def color_labels(rgb: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """Palette index (T, H, W) of every pixel, -1 for background, from smoothed pixels."""
    q = (smooth(rgb) - background[:, None, None]).permute(0, 2, 3, 1)  # (T, H, W, 3)
    foreground = q.norm(dim=-1) > FOREGROUND
    q = q[foreground]  # (n, 3)
    lines = _PALETTE - background  # (K, 3)
    norm2 = (lines * lines).sum(1)  # (K,)
    dot = q @ lines.T  # (n, K)
    alpha = (dot / norm2).clamp(min=0)  # position on each line background -> color
    residual2 = (q * q).sum(1, keepdim=True) - 2 * alpha * dot + alpha**2 * norm2  # |q - alpha line|^2
    labels = torch.full(foreground.shape, -1, dtype=torch.long)
    labels[foreground] = residual2.argmin(-1)
    return labels


def coverage(rgb: torch.Tensor, background: torch.Tensor, color: int, mask: torch.Tensor) -> torch.Tensor:
    """Alpha (T, H, W) in [0, 1] of palette ``color`` over the background, 0 outside ``mask``."""
    line = _PALETTE[color] - background
    alpha = torch.einsum("tchw,c->thw", rgb - background[:, None, None], line) / line.dot(line)
    return alpha.clamp(0, 1) * mask


def detect_colors(labels: torch.Tensor) -> list[int]:
    """Palette indices covering >= ``MIN_OBJECT`` of the frame on average, largest first."""
    counts = torch.bincount(labels[labels >= 0], minlength=len(_NAMES)).float() / labels.numel()
    return [int(k) for k in counts.argsort(descending=True) if counts[k] >= MIN_OBJECT]


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


def fill_ratio(alpha: torch.Tensor) -> float:
    """Median over frames of area / bounding box of ``alpha`` (T, H, W); sub-pixel box
    sides are sums of the per-column (per-row) maximum coverage."""
    area = alpha.sum((1, 2))
    width, height = alpha.amax(1).sum(-1), alpha.amax(2).sum(-1)
    seen = area > 1
    return float((area[seen] / (width[seen] * height[seen])).median()) if seen.any() else float("nan")


def classify_shape(fill: float) -> str | None:
    """The shape whose fill ratio is nearest to ``fill`` (in log scale)."""
    if not math.isfinite(fill):
        return None
    return min(FILL, key=lambda s: abs(math.log(fill / FILL[s])))


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


def judge_video(video: torch.Tensor, prompt: str) -> dict:
    """Judge one video (C, T, H, W) in [-1, 1] against a moving-shapes prompt.

    Returns ``{attribute: {"predicted": [...], "expected": [...], "correct": bool | None}}``
    for color, shape and motion (one entry per prompt object, in prompt order; ``correct``
    is None when the prompt names the attribute for no object) and count (numbers of
    objects), plus ``"measured"``: per object the fill ratio and the fitted track.
    """
    objects = parse_caption(prompt).get("objects")
    if not objects:
        raise ValueError(f"not a moving-shapes prompt: {prompt!r}")
    rgb = to_rgb(video)
    background = estimate_background(rgb)
    labels = color_labels(rgb, background)
    detected = detect_colors(labels)
    matched = match_colors([o.get("color") for o in objects], detected)
    size = min(rgb.shape[-2:])
    colors, shapes, motions, measured = [], [], [], []
    for k in matched:
        alpha = coverage(rgb, background, k, labels == k) if k is not None else None
        fill = fill_ratio(alpha) if alpha is not None else float("nan")
        track = fit_track(alpha) if alpha is not None else None
        colors.append(_NAMES[k] if k is not None else None)
        shapes.append(classify_shape(fill))
        motions.append(classify_motion(track, size))
        measured.append({"fill": fill, "track": track})
    return {
        "color": _verdict(colors, [o.get("color") for o in objects]),
        "shape": _verdict(shapes, [o.get("shape") for o in objects]),
        "motion": _verdict(motions, [o.get("motion") for o in objects]),
        "count": _verdict([len(detected)], [len(objects)]),
        "measured": measured,
    }


def judge_batch(videos: torch.Tensor | Sequence[torch.Tensor], prompts: Sequence[str]) -> dict[str, float]:
    """Accuracy of each attribute over videos (B, C, T, H, W) and their prompts, plus
    ``"all"`` (every judged attribute of the video correct) and ``"n"`` (videos)."""
    if len(videos) != len(prompts):
        raise ValueError(f"{len(videos)} videos but {len(prompts)} prompts")
    verdicts = [judge_video(v, p) for v, p in zip(videos, prompts)]
    out = {}
    for name in ATTRIBUTES:
        judged = [v[name]["correct"] for v in verdicts if v[name]["correct"] is not None]
        out[name] = sum(judged) / len(judged) if judged else float("nan")
    out["all"] = sum(all(v[a]["correct"] is not False for a in ATTRIBUTES) for v in verdicts) / max(len(verdicts), 1)
    out["n"] = len(verdicts)
    return out
