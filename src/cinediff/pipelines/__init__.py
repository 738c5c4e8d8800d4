"""Pipelines compose the parts (text encoder, denoiser, sampler, autoencoder) into generation."""

from cinediff.pipelines.loading import LoadedModel, default_model_dir, export_model, load_model
from cinediff.pipelines.text_to_video import GenerationConfig, generate_videos

__all__ = ["GenerationConfig", "LoadedModel", "default_model_dir", "export_model", "generate_videos", "load_model"]
