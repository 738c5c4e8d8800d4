"""Denoising backbones ``F(x, c_noise, **cond)`` shared by every formulation.

The backbone contract (every backbone, every formulation wrapper in ``cinediff.diffusion``):

    out = backbone(x, c_noise, text=None, text_mask=None, fps=None, cond_frames=None, **extra)

- ``x``: ``(B, C, T, H, W)`` video, or ``(B, C, H, W)`` image (treated as T = 1); returns the same shape.
- ``c_noise``: ``(B,)`` float noise conditioning from the preconditioning (VP: timestep t; EDM: ln(σ)/4).
- ``text``: ``(B, L, D_text)`` text-encoder token states; ``text_mask``: ``(B, L)`` bool, True = real token.
- ``fps``: ``(B,)`` frame rate (Snap Video conditions on it); ``None`` when unused.
- ``cond_frames``: ``(B, C_cond, T, H, W)`` extra input channels concatenated to ``x``
  (Show-1 interpolation / super-resolution inputs, CMD content frames).
- ``text_ids``: ``(B, L)`` int64 tokenizer ids of ``text``'s tokens, passed only to backbones that
  ``text.reads_token_ids`` (a U-Net with ``token_embedding``: learned rows added to the token states).
"""

from __future__ import annotations


import importlib

from torch import nn

from cinediff.configuration import make_config

# name -> (module, model class, config class); imported lazily so each stays independent.
BACKBONES = {
    "unet": ("cinediff.backbones.unet", "UNet", "UNetConfig"),
    "fit": ("cinediff.backbones.fit", "FIT", "FITConfig"),
    "dit": ("cinediff.backbones.dit", "DiT", "DiTConfig"),
}


def build_backbone(name: str, **args) -> nn.Module:
    """A backbone by registry name with its config fields as keyword arguments."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    module, model_cls, config_cls = BACKBONES[name]
    module = importlib.import_module(module)
    return getattr(module, model_cls)(make_config(getattr(module, config_cls), args))
