"""What a diffusion model learns to generate, derived from a batch of clips.

``target(video) -> (x0, cond_frames)``: ``x0`` is what the denoiser models and ``cond_frames``
(or None) extra input channels it is conditioned on (backbone contract). One function per
component of the multi-stage methods, so every stage trains through the same task:

- ``video``: the clip itself, or its latent under the run's frozen autoencoder (default);
- ``keyframes-interpolation``: Show-1 stage 2 — the clip, conditioned on its keyframes (every
  ``stride``-th frame, others zero) plus a mask channel marking the keyframe slots;
- ``super-resolution``: Show-1 stage 3 — the clip, conditioned on itself downsampled by
  ``factor`` and upsampled back (bilinear);
- ``cmd-content`` / ``cmd-motion``: CMD's two generators — the content frame (an image), and
  the motion latent conditioned on the content frame (frozen CMD autoencoder required). With
  ``target_args.latent`` (a frame autoencoder, e.g. ``"vae"``) the content frame is modelled in
  that autoencoder's latent space, as CMD's content frames come from a latent image model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange


def keyframe_condition(video: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, C, T, H, W) → (B, C + 1, T, H, W): frames t ≡ 0 (mod stride) kept, others zero, + mask."""
    mask = torch.zeros_like(video[:, :1])
    mask[:, :, ::stride] = 1
    return torch.cat([video * mask, mask], dim=1)


def resize_frames(video: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """(B, C, T, H, W) → (B, C, T, *size), frame by frame (``bilinear`` up, ``area`` down)."""
    frames = rearrange(video, "b c t h w -> (b t) c h w")
    corners = {"align_corners": False} if mode == "bilinear" else {}
    frames = F.interpolate(frames, size=tuple(size), mode=mode, **corners)
    return rearrange(frames, "(b t) c h w -> b c t h w", b=video.shape[0])


def lowres_condition(video: torch.Tensor, factor: int) -> torch.Tensor:
    """(B, C, T, H, W) → same shape: the clip at 1/factor resolution, upsampled back (bilinear)."""
    h, w = video.shape[-2:]
    if h % factor or w % factor:
        raise ValueError(f"super-resolution: H×W = {h}×{w} is not divisible by factor {factor}")
    return resize_frames(resize_frames(video, (h // factor, w // factor), "area"), (h, w))


@torch.no_grad()
def make_target(kind: str, video: torch.Tensor, autoencoder=None, latent_autoencoder=None,
                **args) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(x0, cond_frames)`` for the named component (see module docstring); ``latent_autoencoder``:
    the loaded ``target_args.latent`` of a ``cmd-content`` target."""
    if latent_autoencoder is not None and kind != "cmd-content":
        raise ValueError(f"target_args.latent is for target cmd-content, not {kind!r} (a latent video model "
                         "takes model.autoencoder)")
    if kind == "video":
        return (video if autoencoder is None else autoencoder.encode(video)), None
    if kind == "keyframes-interpolation":
        return video, keyframe_condition(video, args.get("stride", 4))
    if kind == "super-resolution":
        return video, lowres_condition(video, args.get("factor", 4))
    if kind in ("cmd-content", "cmd-motion"):
        if autoencoder is None or not hasattr(autoencoder, "content_weights"):
            raise ValueError(f"target {kind!r} needs model.autoencoder = a trained CMD autoencoder folder")
        content, motion = autoencoder.encode(video)
        if kind == "cmd-motion":
            return motion, content
        return (content if latent_autoencoder is None else latent_autoencoder.encode(content)), None
    raise ValueError(f"unknown target {kind!r}; choose video, keyframes-interpolation, super-resolution, "
                     "cmd-content or cmd-motion")
