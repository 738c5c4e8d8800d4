"""Attention layers shared by the backbones (diffusers parameter layout, so ported weights load by name).

- ``Attention``: multi-head (self or cross) attention through ``scaled_dot_product_attention``
  with an optional boolean key mask; keys ``to_q, to_k, to_v, to_out.0``.
- ``FeedForward``: GEGLU MLP; keys ``net.0.proj, net.2``.
- ``TransformerBlock``: pre-LayerNorm self-attention, optional cross-attention, GEGLU MLP
  (diffusers ``BasicTransformerBlock``: ``norm1, attn1, norm2, attn2, norm3, ff``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def key_mask_for_sdpa(key_mask: torch.Tensor) -> torch.Tensor:
    """``(B, L)`` bool (True = attend) → ``(B, 1, 1, L)`` mask for SDPA.

    A row with no True key would give NaN; like diffusers' additive −10000 bias it then attends to all keys.
    """
    key_mask = key_mask.bool()
    key_mask = key_mask | ~key_mask.any(dim=-1, keepdim=True)
    return key_mask[:, None, None, :]


class Attention(nn.Module):
    """Multi-head attention: queries from ``x``, keys/values from ``context`` (default: ``x``)."""

    def __init__(
        self, dim: int, context_dim: int | None = None, heads: int = 8, head_dim: int = 64, qkv_bias: bool = False
    ):
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.to_q = nn.Linear(dim, inner, bias=qkv_bias)
        self.to_k = nn.Linear(context_dim or dim, inner, bias=qkv_bias)
        self.to_v = nn.Linear(context_dim or dim, inner, bias=qkv_bias)
        self.to_out = nn.Sequential(nn.Linear(inner, dim))

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x: (B, N, dim); context: (B, L, context_dim); key_mask: (B, L) bool, True = attend → (B, N, dim)."""
        context = x if context is None else context
        q, k, v = (
            rearrange(t, "b n (h d) -> b h n d", h=self.heads)
            for t in (self.to_q(x), self.to_k(context), self.to_v(context))
        )
        mask = None if key_mask is None else key_mask_for_sdpa(key_mask)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, heads, N, head_dim)
        return self.to_out(rearrange(out, "b h n d -> b n (h d)"))


class GEGLU(nn.Module):
    """``a * gelu(b)`` with ``[a, b] = proj(x)`` (Shazeer 2020; diffusers ``GEGLU``)."""

    def __init__(self, dim: int, inner_dim: int):
        super().__init__()
        self.proj = nn.Linear(dim, 2 * inner_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * F.gelu(gate)


class FeedForward(nn.Module):
    """GEGLU MLP ``dim → mult·dim → dim`` (keys ``net.0.proj``, ``net.2``)."""

    def __init__(self, dim: int, mult: int = 4, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, mult * dim), nn.Dropout(dropout), nn.Linear(mult * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TransformerBlock(nn.Module):
    """Pre-norm block: self-attention, cross-attention to ``context`` (when built with ``context_dim``), MLP."""

    def __init__(self, dim: int, heads: int, head_dim: int, context_dim: int | None = None):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads=heads, head_dim=head_dim)
        has_cross = context_dim is not None
        self.norm2 = nn.LayerNorm(dim) if has_cross else None
        self.attn2 = Attention(dim, context_dim, heads=heads, head_dim=head_dim) if has_cross else None
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, key_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """x: (B, N, dim); context: (B, L, context_dim) or None (cross-attention skipped) → (B, N, dim)."""
        x = x + self.attn1(self.norm1(x))
        if context is not None and self.attn2 is not None:
            x = x + self.attn2(self.norm2(x), context, key_mask)
        return x + self.ff(self.norm3(x))
