"""Small transformer layers shared by the FIT and DiT backbones.

``Attention`` (shared with the U-Net, ``attention.py``) and ``FeedForward`` (a GELU MLP) are the
bare maps; ``AttentionLayer`` and ``FeedForwardLayer`` wrap them as pre-norm residual layers (``x + f(norm(x))``), which is all FIT needs. DiT norms
and gates its own sub-layers with adaLN-Zero (``modulate``, ``AdaLNZero``).
All attention goes through ``torch.nn.functional.scaled_dot_product_attention``.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import Attention


def zero_init(module: nn.Module) -> nn.Module:
    """Zero a layer's weight and bias, so that it outputs zeros until trained."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


def self_attention(dim: int, dim_head: int = 64, context_dim: int | None = None) -> Attention:
    """The shared :class:`~cinediff.backbones.attention.Attention` with ``dim // dim_head`` heads."""
    return Attention(dim, context_dim, heads=max(dim // dim_head, 1), head_dim=dim_head)


def FeedForward(dim: int, mult: int = 4) -> nn.Sequential:
    """Position-wise MLP ``dim → mult·dim → dim`` with GELU."""
    return nn.Sequential(nn.Linear(dim, dim * mult), nn.GELU(approximate="tanh"), nn.Linear(dim * mult, dim))


class AttentionLayer(nn.Module):
    """Pre-norm residual attention ``x + attn(norm(x), norm_c(context), mask)``.

    ``context_dim=None``: self-attention; otherwise cross-attention to a normalised context.
    """

    def __init__(self, dim: int, context_dim: int | None = None, dim_head: int = 64):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.norm_context = nn.LayerNorm(context_dim) if context_dim else None
        self.attn = self_attention(dim, dim_head, context_dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None):
        context = None if self.norm_context is None else self.norm_context(context)
        return x + self.attn(self.norm(x), context, mask)


class FeedForwardLayer(nn.Module):
    """Pre-norm residual MLP ``x + ff(norm(x))``."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.ff = FeedForward(dim, mult)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ff(self.norm(x))


class TransformerLayer(nn.Module):
    """Self-attention then MLP, both pre-norm residual: (B, N, dim) → (B, N, dim)."""

    def __init__(self, dim: int, dim_head: int = 64, ff_mult: int = 4):
        super().__init__()
        self.attn = AttentionLayer(dim, dim_head=dim_head)
        self.ff = FeedForwardLayer(dim, ff_mult)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.ff(self.attn(x, mask=mask))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: ``x · (1 + scale) + shift``; x (B, N, D), shift/scale (B, D)."""
    return x * (1 + scale[:, None]) + shift[:, None]


class AdaLNZero(nn.Module):
    """adaLN-Zero modulation (DiT): ``SiLU → Linear`` zero-initialised, (B, cond_dim) → ``chunks`` × (B, dim).

    At init every shift, scale and gate is 0, so gated residual branches start switched off.
    """

    def __init__(self, cond_dim: int, dim: int, chunks: int):
        super().__init__()
        self.chunks = chunks
        self.net = nn.Sequential(nn.SiLU(), zero_init(nn.Linear(cond_dim, chunks * dim)))

    def forward(self, cond: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return self.net(cond).chunk(self.chunks, dim=-1)
