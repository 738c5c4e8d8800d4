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

from cinediff.backbones.embeddings import clip_positions


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
        self, x: torch.Tensor, context: torch.Tensor | None = None, key_mask: torch.Tensor | None = None,
        **cross_args,
    ) -> torch.Tensor:
        """x: (B, N, dim); context: (B, L, context_dim) or None (cross-attention skipped) → (B, N, dim).
        ``cross_args`` go to the cross-attention (e.g. ``num_frames`` for a :class:`FrameValueAttention`)."""
        x = x + self.attn1(self.norm1(x))
        if context is not None and self.attn2 is not None:
            x = x + self.attn2(self.norm2(x), context, key_mask, **cross_args)
        return x + self.ff(self.norm3(x))


class FrameValueAttention(Attention):
    """Cross-attention whose values also carry the frame's place in its clip: ``Attention(x, context)
    + W_frame_out((A · W_frame_value(context)) ⊙ W_frame_position · clip_positions(t))`` with A the
    same attention weights (one SDPA call over the concatenated values).

    For prompts with several objects: a global prompt × frame term (``FrameTextProduct``) gives every
    pixel both objects' motions; a trained cross-attention already reads, at each pixel, mostly its
    own object's words (measured on the shipped stage 3 with phrase-wise prompts, 4-px up blocks:
    0.60-0.62 of the weight on the pixel's own phrase, 0.38-0.40 on the other's), so the words it
    reads, times the frame position, are that object's own motion at that pixel. A separately
    learned attention for that term (its own queries and keys on the 8- and 4-px levels, cosine
    scores) had not learnt to bind after 560 steps (0.47-0.52) and was dropped. Trained as recipe
    ``default-phrases`` it did not raise two-object motion either (README). Rows are frames of clips,
    consecutive (the U-Net's (b t) order); images (``num_frames`` 1) and calls without it get the
    plain attention. ``W_frame_out`` starts at zero:
    a model gains it as a no-op.
    """

    def __init__(self, dim: int, context_dim: int | None = None, heads: int = 8, head_dim: int = 64,
                 qkv_bias: bool = False, frame_head_dim: int = 16):
        super().__init__(dim, context_dim, heads, head_dim, qkv_bias)
        self.head_dim, self.frame_head_dim = head_dim, frame_head_dim
        self.frame_value = nn.Linear(context_dim or dim, heads * frame_head_dim)
        self.frame_position = nn.Linear(8, heads * frame_head_dim)
        self.frame_out = nn.Linear(heads * frame_head_dim, dim)
        nn.init.zeros_(self.frame_out.weight)
        nn.init.zeros_(self.frame_out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None, key_mask: torch.Tensor | None = None,
                num_frames: int = 1) -> torch.Tensor:
        """x: (B·T, N, dim); context: (B·T, L, context_dim); key_mask: (B·T, L) → (B·T, N, dim)."""
        if num_frames == 1 or context is None:
            return super().forward(x, context, key_mask)
        split = lambda t: rearrange(t, "b n (h d) -> b h n d", h=self.heads)  # noqa: E731
        q, k = split(self.to_q(x)), split(self.to_k(context))
        v = torch.cat([split(self.to_v(context)), split(self.frame_value(context))], dim=-1)
        mask = None if key_mask is None else key_mask_for_sdpa(key_mask)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.head_dim**-0.5)
        words, framed = (rearrange(t, "b h n d -> b n (h d)") for t in out.split([self.head_dim, self.frame_head_dim], -1))
        position = self.frame_position(clip_positions(num_frames, x.device).to(x.dtype))  # (T, heads·d_f)
        position = position.repeat(x.shape[0] // num_frames, 1)[:, None]  # (B·T, 1, heads·d_f)
        return self.to_out(words) + self.frame_out(framed * position)
