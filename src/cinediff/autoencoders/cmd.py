"""CMD autoencoder: a video as one content frame plus a small motion latent (Yu et al. 2024; METHODS.md §4).

Encoder: features ``u`` of the clip (a (2+1)-D conv net at spatial stride ``factor``), then
- content frame ``x̄ = Σ_t x_t ⊙ softmax_t(f(u))_t`` — per-pixel, per-channel weights over time
  (logits upsampled to full resolution when ``factor > 1``), so ``x̄`` is a convex combination of
  frames and a static clip's content frame is the frame itself, whatever the weights;
- motion latent ``z = [z_x, z_y]``: ``u`` averaged over the width (→ (B, D, T, H′)) and over the
  height (→ (B, D, T, W′)), 1×1 conv, tanh.

**Motion layout**: ``(B, D, T, H′ + W′)`` — channels first like a video, the height profile
(entries ``0 .. H′-1``) then the width profile, per frame. A 1-D DiT reads it as ``T·(H′+W′)``
tokens of width D: ``rearrange(z, "b d t n -> b (t n) d")`` (or as a T × (H′+W′) image).

Decoder: motion projections broadcast back to T × H′ × W′ (``P_h z_x[..., None] + P_w z_y[..., None, :]``,
i.e. concatenation followed by a 1×1 conv) plus content-frame features at H′ × W′, (2+1)-D conv
blocks each followed by per-frame attention to the frame and the content frame (*choice*: an
object's appearance must travel up to the whole frame from where the content frame holds it;
CMD's decoder is a transformer for the same reason), upsampling with the content frame's features added at every resolution (a 2-D pyramid,
computed once per clip); the output is ``x̄ + Δ`` per frame.

Channels halve at each finer level (``width`` at stride ``factor``, at least ``min_width``), as
in SD's VAE: the full-resolution convolutions dominate the cost of a clip.

Pixel space by default (``in_channels=3``); ``in_channels=4`` runs on frame-VAE latents (encode
the clip with :class:`FrameVAE` first). ``scaling_factor`` scales the motion latent only; the
content frame stays in the input's space.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from cinediff.autoencoders.base import Autoencoder, check_divisible
from cinediff.backbones.attention import Attention
from cinediff.backbones.embeddings import sinusoidal_embedding


@dataclass
class CMDConfig:
    in_channels: int = 3  # 3: pixels; 4: frame-VAE latents
    width: int = 64  # feature channels at stride `factor`; each finer level has half, down to `min_width`
    min_width: int = 16  # fewest channels of a level (full-resolution convolutions dominate the cost)
    factor: int = 4  # spatial stride of the features: H′ = H / factor (a power of 2)
    motion_channels: int = 8  # D
    depth: int = 2  # (2+1)-D residual blocks at the lowest resolution, encoder and decoder each
    attention: bool = True  # decoder: per-frame attention to the frame and the content frame after each low-res block
    norm_groups: int = 8
    loss: str = "l1"  # reconstruction: "l1" or "l2"
    content_weight: float = 0.0  # *choice*: weight of |x̄ − mean_t x_t|, keeps x̄ close to the average frame
    scaling_factor: float = 1.0  # motion latent multiplied by this after encode


class Block(nn.Module):
    """(2+1)-D residual block on (B, C, T, H, W): norm-SiLU-conv 1×3×3, then norm-SiLU-conv 3×1×1."""

    def __init__(self, dim: int, groups: int):
        super().__init__()
        self.norm1, self.norm2 = nn.GroupNorm(groups, dim), nn.GroupNorm(groups, dim)
        self.spatial = nn.Conv3d(dim, dim, (1, 3, 3), padding=(0, 1, 1))
        self.temporal = nn.Conv3d(dim, dim, (3, 1, 1), padding=(1, 0, 0))

    def forward(self, x):
        h = self.spatial(F.silu(self.norm1(x)))
        return x + self.temporal(F.silu(self.norm2(h)))


def downsample(dim: int, dim_out: int) -> nn.Module:
    """Halve H and W: (B, dim, T, H, W) → (B, dim_out, T, H/2, W/2)."""
    return nn.Conv3d(dim, dim_out, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))


def upsample(dim: int, dim_out: int) -> nn.Module:
    """Double H and W: nearest, then a 1×3×3 conv to ``dim_out`` channels."""
    conv = nn.Conv3d(dim, dim_out, (1, 3, 3), padding=(0, 1, 1))
    return nn.Sequential(nn.Upsample(scale_factor=(1, 2, 2), mode="nearest"), conv)


def grid_positions(height: int, width: int, dim: int, device=None) -> torch.Tensor:
    """2-D sine features of a height × width grid: (height·width, dim), rows then columns."""
    rows, cols = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    half = dim // 2
    return torch.cat([sinusoidal_embedding(rows.flatten(), half, max_period=100.0),
                      sinusoidal_embedding(cols.flatten(), dim - half, max_period=100.0)], dim=-1)


class ContentAttention(nn.Module):
    """Per-frame attention of the clip's features to the frame itself and to the content frame's
    features, with 2-D sine positions: the decoder can fetch an object's appearance from wherever it
    sits in the content frame (convolutions only reach a few pixels). Output zero-initialised."""

    def __init__(self, dim: int, groups: int, head_dim: int = 32):
        super().__init__()
        head_dim = min(head_dim, dim)
        self.norm, self.norm_content = nn.GroupNorm(groups, dim), nn.GroupNorm(groups, dim)
        self.attn = Attention(dim, heads=dim // head_dim, head_dim=head_dim)
        nn.init.zeros_(self.attn.to_out[0].weight)
        nn.init.zeros_(self.attn.to_out[0].bias)

    def forward(self, x: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
        """x (B, C, T, H, W), content features (B, C, H, W) → same shape as x."""
        b, c, t, h, w = x.shape
        pos = grid_positions(h, w, c, x.device).to(x.dtype)
        queries = rearrange(self.norm(x), "b c t h w -> (b t) (h w) c") + pos
        content_tokens = rearrange(self.norm_content(content), "b c h w -> b (h w) c") + pos
        context = torch.cat([queries, repeat(content_tokens, "b n c -> (b t) n c", t=t)], dim=1)
        out = self.attn(queries, context)
        return x + rearrange(out, "(b t) (h w) c -> b c t h w", b=b, h=h)


class CMDAutoencoder(Autoencoder):
    """``encode(video) -> (content (B, C, H, W), motion (B, D, T, H′+W′))``; ``decode(content, motion)``."""

    config_class = CMDConfig

    def __init__(self, config: CMDConfig | None = None):
        super().__init__()
        self.config = c = config or CMDConfig()
        levels = c.factor.bit_length() - 1
        if c.factor < 1 or 2**levels != c.factor:
            raise ValueError(f"factor must be a power of 2, got {c.factor}")
        if c.loss not in ("l1", "l2"):
            raise ValueError(f"loss must be 'l1' or 'l2', got {c.loss!r}")
        self.spatial_factor, self.temporal_factor, self.latent_channels = c.factor, 1, c.motion_channels
        g, d = c.norm_groups, c.motion_channels
        widths = [min(c.width, max(c.min_width, c.width >> (levels - i))) for i in range(levels + 1)]
        w = widths[-1]
        # Encoder: video → features u at stride `factor` → content logits and motion profiles.
        stages = [m for i in range(levels) for m in (Block(widths[i], g), downsample(widths[i], widths[i + 1]))]
        conv_in = nn.Conv3d(c.in_channels, widths[0], 3, padding=1)
        self.features = nn.Sequential(conv_in, *stages, *[Block(w, g) for _ in range(c.depth)])
        self.to_logits = nn.Conv3d(w, c.in_channels, 1)  # zero-initialised: uniform weights (the mean frame) at init
        nn.init.zeros_(self.to_logits.weight)
        nn.init.zeros_(self.to_logits.bias)
        self.to_motion_h, self.to_motion_w = nn.Conv2d(w, d, 1), nn.Conv2d(w, d, 1)
        # Decoder: content-frame pyramid + broadcast motion → Δ per frame.
        self.content_in = nn.Conv2d(c.in_channels, widths[0], 3, padding=1)
        self.content_down = nn.ModuleList(
            nn.Sequential(nn.SiLU(), nn.Conv2d(widths[i], widths[i + 1], 3, stride=2, padding=1)) for i in range(levels)
        )
        self.motion_in_h, self.motion_in_w = nn.Conv2d(d, w, 1), nn.Conv2d(d, w, 1)
        self.mid = nn.ModuleList(Block(w, g) for _ in range(c.depth))
        self.mid_attention = nn.ModuleList(ContentAttention(w, g) for _ in range(c.depth) if c.attention)
        self.up = nn.ModuleList(upsample(widths[i + 1], widths[i]) for i in reversed(range(levels)))
        self.up_blocks = nn.ModuleList(Block(widths[i], g) for i in reversed(range(levels)))
        self.norm_out = nn.GroupNorm(g, widths[0])
        self.conv_out = nn.Conv3d(widths[0], c.in_channels, (1, 3, 3), padding=(0, 1, 1))

    # Encoder -----------------------------------------------------------------------------
    def encode(self, video: torch.Tensor, return_weights: bool = False):
        """(B, C, T, H, W) → content (B, C, H, W), scaled motion (B, D, T, H′+W′) [, weights (B, C, T, H, W)]."""
        check_divisible(video.shape[-2], video.shape[-1], self.spatial_factor)
        u = self.features(video)  # (B, width, T, H′, W′)
        weights = self.content_weights_from(u, video.shape[-3:])
        content = (video.float() * weights).sum(dim=2).to(video.dtype)  # x̄ = Σ_t x_t ⊙ w_t
        motion = self.motion_from(u) * self.scaling_factor
        return (content, motion, weights) if return_weights else (content, motion)

    def diffusion_latent(self, video: torch.Tensor) -> torch.Tensor:
        """The scaled motion latent (the content frame is an image in the input's space)."""
        return self.encode(video)[1]

    def content_weights(self, video: torch.Tensor) -> torch.Tensor:
        """softmax_t(f(u)): (B, C, T, H, W), non-negative, summing to 1 over T."""
        return self.encode(video, return_weights=True)[2]

    def content_weights_from(self, u: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
        logits = self.to_logits(u)  # (B, C, T, H′, W′)
        if logits.shape[-3:] != tuple(size):
            logits = F.interpolate(logits, size=tuple(size), mode="trilinear", align_corners=False)
        return logits.float().softmax(dim=2)  # over time, in fp32

    def motion_from(self, u: torch.Tensor) -> torch.Tensor:
        """Unscaled motion latent [z_x, z_y]: (B, D, T, H′ + W′), values in (−1, 1)."""
        z_x = torch.tanh(self.to_motion_h(u.mean(dim=-1)))  # width averaged: (B, D, T, H′)
        z_y = torch.tanh(self.to_motion_w(u.mean(dim=-2)))  # height averaged: (B, D, T, W′)
        return torch.cat([z_x, z_y], dim=-1)

    # Decoder -----------------------------------------------------------------------------
    def decode(self, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """content (B, C, H, W), scaled motion (B, D, T, H′+W′) → video (B, C, T, H, W)."""
        H, W = content.shape[-2:]
        check_divisible(H, W, self.spatial_factor)
        h_len, w_len = H // self.spatial_factor, W // self.spatial_factor
        if motion.shape[-1] != h_len + w_len:
            need = f"{h_len}+{w_len}"
            raise ValueError(f"motion has {motion.shape[-1]} positions, a {H}x{W} content frame needs {need}")
        z = motion / self.scaling_factor
        z_x, z_y = z[..., :h_len], z[..., h_len:]  # (B, D, T, H′), (B, D, T, W′)
        m = self.motion_in_h(z_x)[..., None] + self.motion_in_w(z_y)[..., None, :]  # (B, width, T, H′, W′)
        pyramid = [self.content_in(content)]  # content features, full resolution first: (B, widths[i], H/2^i, W/2^i)
        for down in self.content_down:
            pyramid.append(down(pyramid[-1]))
        low = pyramid.pop()  # (B, width, H′, W′)
        h = low[:, :, None] + m  # (B, width, T, H′, W′)
        for i, block in enumerate(self.mid):
            h = block(h)
            h = self.mid_attention[i](h, low) if self.config.attention else h
        for up, block in zip(self.up, self.up_blocks):
            h = block(up(h) + pyramid.pop()[:, :, None])
        delta = self.conv_out(F.silu(self.norm_out(h)))  # (B, C, T, H, W)
        return content[:, :, None] + delta

    # Training and sizes ------------------------------------------------------------------
    def training_loss(self, video, generator=None):
        """Reconstruction (L1/L2) of the clip + ``content_weight``·|x̄ − mean frame|; no randomness, no generator."""
        content, motion = self.encode(video)
        err = self.decode(content, motion) - video
        rec = err.abs().mean() if self.config.loss == "l1" else err.square().mean()
        loss, logs = rec, {"rec": rec.detach()}
        if self.config.content_weight > 0:
            avg = (content - video.mean(dim=2)).abs().mean()
            loss, logs["content"] = loss + self.config.content_weight * avg, avg.detach()
        return loss, {"loss": loss.detach(), **logs}

    def motion_latent_size(self, frames: int, height: int, width: int) -> int:
        """Numbers in the motion latent of a T×H×W input (H, W in the input's space): D·T·(H′+W′)."""
        check_divisible(height, width, self.spatial_factor)
        return self.latent_channels * frames * (height + width) // self.spatial_factor

    def content_size(self, height: int, width: int) -> int:
        """Numbers in the content frame: C·H·W."""
        return self.config.in_channels * height * width
