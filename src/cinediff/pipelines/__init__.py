"""Pipelines compose the parts (text encoder, denoiser, sampler, autoencoder) into generation."""

from cinediff.pipelines.text_to_video import GenerationConfig, generate_videos

__all__ = ["GenerationConfig", "generate_videos"]
