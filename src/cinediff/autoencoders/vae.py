"""Frame VAE: a Stable-Diffusion-style KL autoencoder applied to a video frame by frame.

Spatial compression ``2 ** (len(block_channels) - 1)`` (4 levels: 8, as SD), temporal 1.
Module names equal diffusers' ``AutoencoderKL`` (``encoder.down_blocks.0.resnets.0.conv1``,
``encoder.mid_block.attentions.0.to_q``, ``quant_conv`` ...), so :meth:`FrameVAE.from_diffusers`
loads a diffusers VAE folder with safetensors alone and reproduces its encode and decode.
Frames are folded into the batch and run ``chunk_size`` at a time, so memory stays bounded
for long clips.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from cinediff.autoencoders.base import Autoencoder, check_divisible
from cinediff.weights import load_tensors
from cinediff.autoencoders.diffusers_compat import config_from_diffusers, rename_legacy_keys


@dataclass
class VAEConfig:
    in_channels: int = 3
    latent_channels: int = 4
    block_channels: tuple[int, ...] = (64, 128, 256, 256)  # one level each; spatial factor 2**(levels-1)
    layers_per_block: int = 2  # resnets per encoder level (the decoder has one more, as diffusers)
    norm_groups: int = 32
    mid_attention: bool = True  # self-attention in the mid blocks (diffusers mid_block_add_attention)
    use_quant_conv: bool = True  # 1x1 convs around the latent (SD: yes; SD3/Flux: no)
    scaling_factor: float = 0.18215  # latents = (mean - shift) * scale; see estimate_scaling_factor
    shift_factor: float = 0.0
    chunk_size: int = 8  # frames per encoder/decoder call
    loss: str = "l1"  # reconstruction: "l1" or "l2"
    kl_weight: float = 1e-6  # relative to a per-pixel *sum* reconstruction loss, as in LDM
    gradient_weight: float = 0.0  # multi-scale image-gradient loss, a cheap stand-in for LPIPS (0 = off)


class ResnetBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, plus a 1×1 shortcut when the width changes (diffusers ResnetBlock2D)."""

    def __init__(self, dim_in: int, dim_out: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, dim_in, eps=1e-6)
        self.conv1 = nn.Conv2d(dim_in, dim_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(groups, dim_out, eps=1e-6)
        self.conv2 = nn.Conv2d(dim_out, dim_out, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(dim_in, dim_out, 1) if dim_in != dim_out else nn.Identity()

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        return self.conv_shortcut(x) + self.conv2(F.silu(self.norm2(h)))


class AttnBlock(nn.Module):
    """Single-head spatial self-attention with a residual (diffusers' VAE Attention)."""

    def __init__(self, dim: int, groups: int):
        super().__init__()
        self.group_norm = nn.GroupNorm(groups, dim, eps=1e-6)
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])

    def forward(self, x):
        h = rearrange(self.group_norm(x), "b c h w -> b (h w) c")
        out = F.scaled_dot_product_attention(self.to_q(h)[:, None], self.to_k(h)[:, None], self.to_v(h)[:, None])
        out = rearrange(self.to_out[0](out[:, 0]), "b (h w) c -> b c h w", h=x.shape[-2])
        return x + out


class Downsample(nn.Module):
    """Stride-2 3×3 conv after padding right and bottom by one (diffusers Downsample2D, padding=0)."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest ×2 then a 3×3 conv (diffusers Upsample2D)."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv = nn.Conv2d(dim, dim, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """One resolution level: ``resnets``, then ``downsamplers`` (encoder) or ``upsamplers`` (decoder), maybe empty."""

    def __init__(self, dim_in: int, dim_out: int, layers: int, groups: int, kind: str, resample: bool):
        super().__init__()
        self.kind = kind
        self.resnets = nn.ModuleList(ResnetBlock(dim_in if i == 0 else dim_out, dim_out, groups) for i in range(layers))
        sampler = Downsample if kind == "down" else Upsample
        setattr(self, f"{kind}samplers", nn.ModuleList([sampler(dim_out)] if resample else []))

    def forward(self, x):
        for layer in [*self.resnets, *getattr(self, f"{self.kind}samplers")]:
            x = layer(x)
        return x


class MidBlock(nn.Module):
    """resnet → attention → resnet at the lowest resolution (diffusers UNetMidBlock2D)."""

    def __init__(self, dim: int, groups: int, attention: bool):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock(dim, dim, groups), ResnetBlock(dim, dim, groups)])
        self.attentions = nn.ModuleList([AttnBlock(dim, groups)] if attention else [])

    def forward(self, x):
        x = self.resnets[0](x)
        for attn in self.attentions:
            x = attn(x)
        return self.resnets[1](x)


class Encoder(nn.Module):
    """(N, C, H, W) → (N, 2·latent, H/f, W/f): the posterior's mean and log-variance (before quant_conv)."""

    def __init__(self, c: VAEConfig):
        super().__init__()
        ch, n = c.block_channels, len(c.block_channels)
        self.conv_in = nn.Conv2d(c.in_channels, ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList(
            Level(ch[max(i - 1, 0)], ch[i], c.layers_per_block, c.norm_groups, "down", i < n - 1)
            for i in range(n)
        )
        self.mid_block = MidBlock(ch[-1], c.norm_groups, c.mid_attention)
        self.conv_norm_out = nn.GroupNorm(c.norm_groups, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], 2 * c.latent_channels, 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for block in self.down_blocks:
            x = block(x)
        return self.conv_out(F.silu(self.conv_norm_out(self.mid_block(x))))


class Decoder(nn.Module):
    """(N, latent, h, w) → (N, C, h·f, w·f)."""

    def __init__(self, c: VAEConfig):
        super().__init__()
        ch, n = c.block_channels[::-1], len(c.block_channels)
        self.conv_in = nn.Conv2d(c.latent_channels, ch[0], 3, padding=1)
        self.mid_block = MidBlock(ch[0], c.norm_groups, c.mid_attention)
        self.up_blocks = nn.ModuleList(
            Level(ch[max(i - 1, 0)], ch[i], c.layers_per_block + 1, c.norm_groups, "up", i < n - 1)
            for i in range(n)
        )
        self.conv_norm_out = nn.GroupNorm(c.norm_groups, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], c.in_channels, 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            x = block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class FrameVAE(Autoencoder):
    """KL autoencoder over frames. ``encode``: (B, C, T, H, W) → (B, latent, T, H/f, W/f); images (B, C, H, W) too."""

    config_class = VAEConfig

    def __init__(self, config: VAEConfig | None = None):
        super().__init__()
        self.config = c = config or VAEConfig()
        if c.loss not in ("l1", "l2"):
            raise ValueError(f"loss must be 'l1' or 'l2', got {c.loss!r}")
        self.spatial_factor, self.temporal_factor = 2 ** (len(c.block_channels) - 1), 1
        self.latent_channels = c.latent_channels
        self.encoder, self.decoder = Encoder(c), Decoder(c)
        z2, z = 2 * c.latent_channels, c.latent_channels
        self.quant_conv = nn.Conv2d(z2, z2, 1) if c.use_quant_conv else nn.Identity()
        self.post_quant_conv = nn.Conv2d(z, z, 1) if c.use_quant_conv else nn.Identity()

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(latent, T, H/f, W/f) for a T×H×W clip."""
        check_divisible(height, width, self.spatial_factor)
        return self.latent_channels, frames, height // self.spatial_factor, width // self.spatial_factor

    def moments(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Unscaled posterior mean and log-variance, each (B, latent, T, H/f, W/f), in frame chunks."""
        check_divisible(video.shape[-2], video.shape[-1], self.spatial_factor)
        out = self._per_frame(lambda x: self.quant_conv(self.encoder(x)), video)
        mean, logvar = out.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def encode(self, video, sample: bool = False, generator: torch.Generator | None = None):
        """Scaled latent: the posterior mean, or a sample of it (``sample=True``). 4-D images give 4-D latents."""
        mean, logvar = self.moments(video)
        z = mean + (0.5 * logvar).exp() * _randn_like(mean, generator) if sample else mean
        return (z - self.config.shift_factor) * self.scaling_factor

    def decode(self, latent):
        """Scaled latent (B, latent, T, h, w) or (B, latent, h, w) → video (B, C, T, h·f, w·f) or image."""
        return self.decode_unscaled(latent / self.scaling_factor + self.config.shift_factor)

    def decode_unscaled(self, z: torch.Tensor) -> torch.Tensor:
        """Raw latent (as diffusers' ``AutoencoderKL.decode``) → frames, ``chunk_size`` at a time."""
        return self._per_frame(lambda x: self.decoder(self.post_quant_conv(x)), z)

    def _per_frame(self, fn, x: torch.Tensor) -> torch.Tensor:
        """Apply a 2-D map to every frame, ``chunk_size`` frames per call; 4-D input is one frame."""
        if x.ndim == 4:
            return self._per_frame(fn, x[:, :, None])[:, :, 0]
        frames = rearrange(x, "b c t h w -> (b t) c h w")
        out = torch.cat([fn(chunk) for chunk in frames.split(self.config.chunk_size)])
        return rearrange(out, "(b t) c h w -> b c t h w", b=x.shape[0])

    def training_loss(self, video, generator=None):
        """Reconstruction of a posterior sample + ``kl_weight``·KL, both per pixel-element; see VAEConfig."""
        c = self.config
        mean, logvar = self.moments(video)
        z = mean + (0.5 * logvar).exp() * _randn_like(mean, generator)
        recon = self.decode_unscaled(z)
        err = recon - video
        rec = err.abs().mean() if c.loss == "l1" else err.square().mean()
        kl = 0.5 * (mean.square() + logvar.exp() - 1 - logvar).sum() / video.numel()  # KL sum / pixel elements
        loss = rec + c.kl_weight * kl
        logs = {"rec": rec.detach(), "kl": kl.detach()}
        if c.gradient_weight > 0:
            grad = gradient_loss(recon, video)
            loss, logs["grad"] = loss + c.gradient_weight * grad, grad.detach()
        return loss, {"loss": loss.detach(), **logs}

    @classmethod
    def from_diffusers(cls, path: str | os.PathLike, **overrides) -> "FrameVAE":
        """Load a diffusers ``AutoencoderKL`` folder (config.json + diffusion_pytorch_model.safetensors)."""
        path = Path(path)
        if not (path / "config.json").is_file() and (path / "vae" / "config.json").is_file():
            path = path / "vae"  # a whole pipeline folder
        model = cls(VAEConfig(**{**config_from_diffusers(path), **overrides}))
        model.load_state_dict(rename_legacy_keys(load_tensors(path / "diffusion_pytorch_model.safetensors")))
        return model


def _randn_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def gradient_loss(x: torch.Tensor, y: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """Multi-scale gradient-difference loss (after Mathieu et al. 2016).

    Mean |∇x − ∇y| of finite differences in H and W, at full, 1/2 and 1/4 size (``scales``).
    Penalises blur at edges, which L1/L2 alone tolerate; a cheap perceptual stand-in (not LPIPS).
    """
    x, y = (rearrange(v, "b c t h w -> (b t) c h w") if v.ndim == 5 else v for v in (x, y))
    total = 0.0
    for s in range(scales):
        if s:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
        for dim in (-1, -2):
            total = total + (x.diff(dim=dim) - y.diff(dim=dim)).abs().mean()
    return total / scales


@torch.no_grad()
def estimate_scaling_factor(vae: Autoencoder, videos: torch.Tensor | Iterable[torch.Tensor]) -> float:
    """``1 / std`` of the latents of ``videos`` (a batch or an iterable of batches), as SD chose 0.18215;
    for CMD, of the motion latent (``Autoencoder.diffusion_latent``).

    Returns the factor that gives unit-std latents; set ``vae.scaling_factor = s`` to use and save it.
    """
    count, total, total_sq = 0, 0.0, 0.0
    for batch in [videos] if torch.is_tensor(videos) else videos:
        z = vae.diffusion_latent(batch).double() / vae.scaling_factor  # unscaled (shift does not change the std)
        count, total, total_sq = count + z.numel(), total + z.sum().item(), total_sq + z.square().sum().item()
    var = total_sq / count - (total / count) ** 2
    return 1.0 / max(var, 1e-24) ** 0.5
