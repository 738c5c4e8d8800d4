"""Models, below both training and pipelines: configs (``config``), builders (``build``), what a
model generates from a clip (``targets``), and starting from a diffusers folder (``diffusers_init``)."""

from cinediff.models.build import build_denoiser, build_text_encoder, load_target_latent
from cinediff.models.config import ModelConfig

__all__ = ["ModelConfig", "build_denoiser", "build_text_encoder", "load_target_latent"]
