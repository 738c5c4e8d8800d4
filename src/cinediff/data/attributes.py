"""The attribute vocabulary of the synthetic sets and held-out combinations (DATA.md).

An *object* is a dict with at least ``color``, ``shape`` and ``motion``; a held-out
*combination* is a partial dict such as ``{"color": "cyan", "motion": "up"}`` that matches
every object agreeing on the keys it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Object colors, RGB in 0..255 (DATA.md table).
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 220),
    "yellow": (230, 210, 40),
    "purple": (150, 60, 200),
    "orange": (240, 140, 30),
    "cyan": (40, 200, 210),
    "white": (240, 240, 240),
}

# Plain backgrounds, RGB in 0..255.
BACKGROUNDS: dict[str, tuple[int, int, int]] = {"black": (20, 20, 20), "gray": (128, 128, 128)}

SHAPES: tuple[str, ...] = ("circle", "square", "triangle")

# Translations move the object's center; growing/shrinking scale it in place.
DIRECTIONS: tuple[str, ...] = ("left", "right", "up", "down")
MOTIONS: tuple[str, ...] = DIRECTIONS + ("growing", "shrinking")

# Unit displacement (dx, dy) of each direction in image coordinates (y points down).
DIRECTION_VECTORS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}

# Never generated for training (DATA.md): compositional generalization is measured on them.
DEFAULT_HELD_OUT: tuple[dict[str, str], ...] = (
    {"color": "purple", "shape": "triangle"},
    {"color": "cyan", "motion": "up"},
)


def normalize_motion(motion: str) -> str:
    """``"moving up"`` -> ``"up"``; other names pass through."""
    return motion.removeprefix("moving ").strip()


def normalize_combo(combo: Mapping[str, str]) -> dict[str, str]:
    """Checks the keys and values of a held-out combination, e.g. ``{"motion": "moving up"}``."""
    vocab = {"color": COLORS, "shape": SHAPES, "motion": MOTIONS}
    out = {}
    for key, value in combo.items():
        value = normalize_motion(value) if key == "motion" else value
        if key not in vocab or value not in vocab[key]:
            raise ValueError(f"bad held-out attribute {key}={value!r}; keys/values: {vocab}")
        out[key] = value
    return out


def matches(obj: Mapping[str, object], combo: Mapping[str, str]) -> bool:
    """True when ``obj`` agrees with every attribute ``combo`` names."""
    return all(obj.get(key) == value for key, value in combo.items())


def is_held_out(obj: Mapping[str, object], combos: Iterable[Mapping[str, str]]) -> bool:
    """True when ``obj`` matches any held-out combination."""
    return any(matches(obj, c) for c in combos)


def rgb_to_unit(rgb: Iterable[int]) -> list[float]:
    """0..255 RGB -> the [-1, 1] range of video tensors."""
    return [c / 127.5 - 1.0 for c in rgb]
