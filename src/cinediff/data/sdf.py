"""Signed distance functions of 2-D shapes and anti-aliased coverage.

Points are offsets ``(x, y)`` from the shape's bounding-box center in pixels, image
coordinates (y points down); ``r`` is half the bounding-box width (the "radius").
All functions broadcast over any leading shape. Distances are negative inside.
"""

from __future__ import annotations

import math

import torch

SQRT3 = math.sqrt(3.0)


def sdf_circle(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Disc of radius ``r``."""
    return torch.sqrt(x * x + y * y) - r


def sdf_square(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Axis-aligned square of side ``2r`` (exact Euclidean distance, Quilez's sdBox)."""
    qx, qy = x.abs() - r, y.abs() - r
    outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2)
    return outside + torch.maximum(qx, qy).clamp(max=0)


def sdf_triangle(x: torch.Tensor, y: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Upright equilateral triangle of side ``2r`` (height ``r*sqrt(3)``), bbox-centered.

    Quilez's sdEquilateralTriangle, whose origin is the centroid and whose y points up:
    the bounding-box center sits ``r / (2 sqrt 3)`` above the centroid.
    """
    px = x.abs() - r
    py = -y + r / (2 * SQRT3) + r / SQRT3  # to centroid-origin, y-up; then Quilez's shift
    fold = px + SQRT3 * py > 0
    px, py = torch.where(fold, (px - SQRT3 * py) / 2, px), torch.where(fold, (-SQRT3 * px - py) / 2, py)
    px = px - torch.minimum(torch.maximum(px, -2 * r), torch.zeros_like(px))
    return -torch.sqrt(px * px + py * py) * torch.sign(py)


SDFS = {"circle": sdf_circle, "square": sdf_square, "triangle": sdf_triangle}


def coverage(sdf: torch.Tensor) -> torch.Tensor:
    """Anti-aliased pixel coverage in [0, 1]: a 1-px linear ramp across the edge."""
    return (0.5 - sdf).clamp(0.0, 1.0)
