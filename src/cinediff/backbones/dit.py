"""A small DiT over a token sequence: the CMD motion-latent denoiser (Yu et al. 2024, §3.3).

CMD generates the motion latent ``z = [z_x, z_y]`` with a light DiT (Peebles & Xie 2023)
conditioned on the content frame, whose patch tokens are **prepended** to the motion tokens,
and on text. Here:

- tokens: the motion latent ``x`` (B, C_m, *S) with any trailing token grid S — (N,) for a
  flat sequence, (T, H′+W′) for CMD's two projections side by side — one token per grid cell;
- positions: fixed sin-cos, the width split over the grid's axes (DiT's 2-D sin-cos, any rank);
- content: ``cond_frames`` (B, C_c, H, W), patchified, with its own 2-D positions and a learned
  type embedding, prepended; the blocks self-attend over [content, motion];
- c_noise: adaLN-Zero on self-attention and MLP (DiT); text: cross-attention (zero-init output,
  PixArt-α style) to [a learned null token, projected text tokens] under ``text_mask``.

Every block is the identity at init and the final linear is zero: the output starts at 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .embeddings import TimestepEmbedding, sinusoidal_embedding
from .layers import AdaLNZero, AttentionLayer, FeedForward, modulate, self_attention, zero_init


@dataclass
class DiTConfig:
    in_channels: int = 8  # motion-latent channels C_m (CMD: D = 8)
    out_channels: int = 8  # output channels (same grid as the input)
    content_channels: int = 4  # channels of the content frame (latent); 0 = no content tokens
    content_patch_size: int = 2  # content frame → (H/p)·(W/p) tokens
    dim: int = 384  # token width
    depth: int = 6  # blocks
    dim_head: int = 64  # heads = dim // dim_head
    ff_mult: int = 4  # MLP expansion
    text_dim: int = 384  # text-encoder width (all-MiniLM-L6-v2)
    time_embed_dim: int = 256  # sinusoidal features of c_noise

    def scaled(self, width: float = 1.0, depth: float = 1.0) -> DiTConfig:
        """A copy with dim × ``width`` (a multiple of dim_head) and depth × ``depth``: params ≈ width² · depth."""
        dim = max(self.dim_head, round(self.dim * width / self.dim_head) * self.dim_head)
        return replace(self, dim=dim, depth=max(1, round(self.depth * depth)))


def grid_positions(shape: tuple[int, ...], dim: int, device=None) -> torch.Tensor:
    """Fixed sin-cos positions of a token grid, row-major → (prod(shape), dim); the width is split over the axes."""
    widths = [dim // len(shape)] * len(shape)
    widths[-1] += dim - sum(widths)
    axes = torch.meshgrid(*[torch.arange(n, device=device) for n in shape], indexing="ij")
    return torch.cat([sinusoidal_embedding(a.flatten(), w) for a, w in zip(axes, widths)], dim=-1)


class DiTBlock(nn.Module):
    """adaLN-Zero self-attention, text cross-attention (zero-init output), adaLN-Zero MLP: identity at init."""

    def __init__(self, dim: int, dim_head: int, ff_mult: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attn = self_attention(dim, dim_head)
        self.cross = AttentionLayer(dim, dim, dim_head)
        zero_init(self.cross.attn.to_out)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(dim, ff_mult)
        self.modulation = AdaLNZero(dim, dim, 6)

    def forward(self, x, cond, text, text_mask=None):
        """x: (B, N, dim); cond: (B, dim) noise embedding; text: (B, L, dim); text_mask: (B, L) or None."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(cond)
        x = x + gate1[:, None] * self.attn(modulate(self.norm1(x), shift1, scale1))
        x = self.cross(x, text, text_mask)
        return x + gate2[:, None] * self.ff(modulate(self.norm2(x), shift2, scale2))


class DiT(nn.Module):
    """DiT backbone ``F(x, c_noise, text, text_mask, fps, cond_frames)``; x (B, C_m, *S) → (B, out_channels, *S).

    ``cond_frames``: the content frame (B, C_c, H, W) (or (B, C_c, 1, H, W)); required when
    ``content_channels > 0``. ``fps`` is accepted for the contract and ignored.
    """

    def __init__(self, config: DiTConfig | None = None):
        super().__init__()
        c = self.config = config or DiTConfig()
        self.to_tokens = nn.Linear(c.in_channels, c.dim)
        if c.content_channels:
            self.to_content_tokens = nn.Linear(c.content_channels * c.content_patch_size**2, c.dim)
            self.content_type = nn.Parameter(torch.randn(c.dim) * 0.02)  # tells content from motion tokens
        self.noise_embed = TimestepEmbedding(c.time_embed_dim, c.dim)
        self.text_proj = nn.Linear(c.text_dim, c.dim)
        self.null_text = nn.Parameter(torch.randn(1, 1, c.dim) * 0.02)  # always attendable: no empty rows
        self.blocks = nn.ModuleList(DiTBlock(c.dim, c.dim_head, c.ff_mult) for _ in range(c.depth))
        self.norm_out = nn.LayerNorm(c.dim, elementwise_affine=False, eps=1e-6)
        self.modulation_out = AdaLNZero(c.dim, c.dim, 2)
        self.to_out = zero_init(nn.Linear(c.dim, c.out_channels))

    def content_tokens(self, content: torch.Tensor) -> torch.Tensor:
        """Content frame (B, C_c, H, W) → (B, (H/p)(W/p), dim) tokens with 2-D positions and the type embedding."""
        content = content[:, :, 0] if content.ndim == 5 else content
        p = self.config.content_patch_size
        if content.shape[-2] % p or content.shape[-1] % p:
            raise ValueError(f"DiT: content frame {tuple(content.shape[-2:])} not divisible by content_patch_size={p}")
        tokens = rearrange(content, "b c (h p) (w q) -> b h w (c p q)", p=p, q=p)
        pos = grid_positions(tokens.shape[1:3], self.config.dim, content.device)
        return self.to_content_tokens(tokens).flatten(1, 2) + pos.to(tokens.dtype) + self.content_type

    def text_context(self, text, text_mask, batch: int):
        """[null token, projected text] (B, 1 + L, dim) and its key mask (B, 1 + L) or None."""
        null = self.null_text.expand(batch, -1, -1)
        if text is None:
            return null, None
        mask = None if text_mask is None else F.pad(text_mask.bool(), (1, 0), value=True)
        return torch.cat([null, self.text_proj(text)], dim=1), mask

    def forward(self, x, c_noise, text=None, text_mask=None, fps=None, cond_frames=None):
        """x: (B, C_m, *S); c_noise: (B,) → (B, out_channels, *S)."""
        tokens = rearrange(x, "b c ... -> b (...) c")  # (B, N, C_m)
        h = self.to_tokens(tokens) + grid_positions(x.shape[2:], self.config.dim, x.device).to(tokens.dtype)
        if self.config.content_channels:
            if cond_frames is None:
                raise ValueError("DiT: cond_frames (the content frame) is required when content_channels > 0")
            h = torch.cat([self.content_tokens(cond_frames), h], dim=1)  # (B, N_c + N, dim)
        cond = self.noise_embed(c_noise)
        text, text_mask = self.text_context(text, text_mask, x.shape[0])
        for block in self.blocks:
            h = block(h, cond, text, text_mask)
        shift, scale = self.modulation_out(cond)
        out = self.to_out(modulate(self.norm_out(h[:, -tokens.shape[1] :]), shift, scale))  # motion tokens only
        return rearrange(out, "b n c -> b c n").reshape(x.shape[0], -1, *x.shape[2:])
