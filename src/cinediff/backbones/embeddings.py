"""Embeddings shared by every backbone: sinusoidal features of noise level, frame rate, size."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal_embedding(
    t: torch.Tensor, dim: int, flip_sin_to_cos: bool = True, freq_shift: float = 0.0, max_period: float = 10000.0
) -> torch.Tensor:
    """Transformer-style features of a scalar per sample: ``(B,) -> (B, dim)`` in fp32.

    Same formula as diffusers' ``get_timestep_embedding`` (``flip_sin_to_cos=True,
    downscale_freq_shift=0`` is Stable Diffusion's), so ported weights see the same inputs.
    """
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / (half - freq_shift)
    args = t.float()[:, None] * exponent.exp()[None]
    emb = torch.cat([args.sin(), args.cos()], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if dim % 2:
        emb = nn.functional.pad(emb, (0, 1))
    return emb


class TimestepEmbedding(nn.Module):
    """Sinusoidal features → 2-layer MLP (diffusers ``TimestepEmbedding`` layout: linear_1, SiLU, linear_2)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.in_dim = in_dim
        self.linear_1 = nn.Linear(in_dim, out_dim)
        self.act = nn.SiLU()
        self.linear_2 = nn.Linear(out_dim, out_dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """t: (B,) scalar condition (c_noise, fps, ...) → (B, out_dim)."""
        return self.forward_features(sinusoidal_embedding(t, self.in_dim))

    def forward_features(self, features: torch.Tensor) -> torch.Tensor:
        """The MLP alone on given features (B, in_dim), e.g. a pooled text state → (B, out_dim)."""
        return self.linear_2(self.act(self.linear_1(features.to(self.linear_1.weight.dtype))))
