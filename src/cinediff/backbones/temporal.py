"""Temporal mixers: the slot through which frames of a frame-folded 2D U-Net talk to each other.

The U-Net runs on ``(B*T, C, H, W)`` (time folded into batch). Every ResBlock owns one mixer
with two hooks, both identity unless a subclass overrides them:

- ``residual(h, num_frames)``: on the residual branch, after ``norm1 + SiLU`` and right before
  ``conv1`` — the TSM "residual shift" position; the identity (skip) path is untouched.
- ``output(x, num_frames)``: on the block output (residual temporal layers).

Kinds (``make_temporal_mixer``):

- ``"none"``: identity; frames are processed independently (the image model).
- ``"shift"``: Latent-Shift (An et al. 2023, METHODS.md §2) parameter-free temporal shift.
  Placed after ``norm1 + SiLU`` so GroupNorm statistics stay those of each frame's own features
  and the zeros shifted in at clip ends are exactly zero at the conv input.
- ``"attention"``: VideoLDM / ModelScope-style temporal self-attention over T at every pixel,
  then a 1D temporal conv, each residual with a zero-initialised output projection, so a model
  inflated from an image checkpoint starts equal to it.

Every mixer is skipped for ``num_frames == 1``: a video model still computes the image model
bit for bit on images.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from cinediff.backbones.attention import Attention
from cinediff.backbones.embeddings import sinusoidal_embedding

TEMPORAL_KINDS = ("none", "shift", "attention")


def temporal_shift(x: torch.Tensor, num_frames: int, fold_div: int = 8) -> torch.Tensor:
    """TSM shift (Lin et al. 2019, ``temporal_shift.py``). x: (B*T, C, H, W) → same shape.

    With ``fold = C // fold_div``: channels ``[0, fold)`` of frame t take frame t+1's features,
    channels ``[fold, 2 fold)`` take frame t-1's, the rest stay; zeros come in at the clip ends.
    """
    if num_frames == 1:
        return x
    x = rearrange(x, "(b t) c h w -> b t c h w", t=num_frames)
    fold = x.shape[2] // fold_div
    out = torch.zeros_like(x)
    out[:, :-1, :fold] = x[:, 1:, :fold]  # shift backward in time: t ← t+1
    out[:, 1:, fold : 2 * fold] = x[:, :-1, fold : 2 * fold]  # shift forward in time: t ← t-1
    out[:, :, 2 * fold :] = x[:, :, 2 * fold :]
    return rearrange(out, "b t c h w -> (b t) c h w")


class TemporalMixer(nn.Module):
    """``"none"``: both hooks are the identity (no parameters)."""

    def residual(self, h: torch.Tensor, num_frames: int) -> torch.Tensor:
        """h: (B*T, C, H, W) residual-branch features before the first conv."""
        return h

    def output(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """x: (B*T, C, H, W) block output."""
        return x


class TemporalShift(TemporalMixer):
    """``"shift"``: Latent-Shift residual shift, no parameters."""

    def __init__(self, fold_div: int = 8):
        super().__init__()
        self.fold_div = fold_div

    def residual(self, h: torch.Tensor, num_frames: int) -> torch.Tensor:
        return temporal_shift(h, num_frames, self.fold_div)


class TemporalAttention(TemporalMixer):
    """``"attention"``: x + attn_T(norm x) then x + conv_T(SiLU(norm x)), zero-initialised outputs."""

    def __init__(self, channels: int, norm_groups: int = 32, head_dim: int = 64):
        super().__init__()
        heads = max(1, channels // head_dim)
        self.norm = nn.GroupNorm(norm_groups, channels, eps=1e-6)
        self.attn = Attention(channels, heads=heads, head_dim=channels // heads)
        self.conv_norm = nn.GroupNorm(norm_groups, channels)
        self.conv = nn.Conv3d(channels, channels, kernel_size=(3, 1, 1), padding=(1, 0, 0))
        for layer in (self.attn.to_out[0], self.conv):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def output(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        if num_frames == 1:
            return x
        x = x + self.attend(x, num_frames)
        return x + self.convolve(x, num_frames)

    def attend(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Self-attention over time at each pixel, with sinusoidal frame positions. (B*T, C, H, W) → same."""
        h, w = x.shape[-2:]
        seq = rearrange(self.norm(x), "(b t) c h w -> (b h w) t c", t=num_frames)
        position = torch.arange(num_frames, device=x.device)
        seq = seq + sinusoidal_embedding(position, seq.shape[-1]).to(seq.dtype)  # (T, C) broadcast
        out = self.attn(seq)  # (B*H*W, T, C)
        return rearrange(out, "(b h w) t c -> (b t) c h w", h=h, w=w)

    def convolve(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """Kernel-3 conv along time at each pixel (zero-padded ends). (B*T, C, H, W) → same."""
        h = rearrange(nn.functional.silu(self.conv_norm(x)), "(b t) c h w -> b c t h w", t=num_frames)
        return rearrange(self.conv(h), "b c t h w -> (b t) c h w")


def make_temporal_mixer(
    kind: str, channels: int, fold_div: int = 8, norm_groups: int = 32, head_dim: int = 64
) -> TemporalMixer:
    """The mixer of one ResBlock with ``channels`` output channels."""
    if kind == "none":
        return TemporalMixer()
    if kind == "shift":
        return TemporalShift(fold_div)
    if kind == "attention":
        return TemporalAttention(channels, norm_groups, head_dim)
    raise ValueError(f"temporal must be one of {TEMPORAL_KINDS}, got {kind!r}")
