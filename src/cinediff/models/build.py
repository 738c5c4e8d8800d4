"""Build a model from its config: the backbone in its formulation's preconditioning (the denoiser),
the frozen text encoder, and the frame autoencoder a target names."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from cinediff.autoencoders import load_autoencoder
from cinediff.backbones import build_backbone
from cinediff.diffusion import EDMPrecond, VPPrecond, VPSchedule
from cinediff.models.config import ModelConfig
from cinediff.text import PhraseEncoder, load_text_encoder


def build_denoiser(config: ModelConfig) -> nn.Module:
    """Backbone wrapped in its formulation's preconditioning."""
    backbone = build_backbone(config.backbone, **config.backbone_args)
    args = dict(config.formulation_args)
    if config.formulation == "edm":
        return EDMPrecond(backbone, **args)
    if config.formulation == "vp":
        prediction = args.pop("prediction", "eps")
        return VPPrecond(backbone, VPSchedule(**args), prediction)
    raise ValueError(f"unknown formulation {config.formulation!r}; choose edm or vp")


def load_target_latent(target_args: dict, root: Path | None = None):
    """The frame autoencoder ``target_args.latent`` names (a shipped name or a folder; relative to
    ``root`` inside an export), or None."""
    name = target_args.get("latent")
    if not name:
        return None
    return load_autoencoder(root / name if root is not None else name)


def build_text_encoder(name: str | None, phrases: bool = False, shared=None):
    """The frozen text encoder ``name`` (None for "" / None: unconditional), or ``shared`` (an encoder
    already loaded, to reuse); with ``phrases`` it encodes each phrase of a prompt on its own
    (:class:`~cinediff.text.PhraseEncoder` around the same model)."""
    if shared is None and not name:
        return None
    encoder = load_text_encoder(name) if shared is None else shared
    encoder = encoder.encoder if encoder.phrases else encoder
    return PhraseEncoder(encoder) if phrases else encoder
