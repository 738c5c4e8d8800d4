"""Pipelines compose the parts (text encoder, denoiser, sampler, autoencoder) into generation:
one stage (``generate_videos``) or a chain of stages (Show-1, CMD) saved as a pipeline folder."""

from cinediff.pipelines.cmd import CMDConfig, CMDOutputs, generate_cmd
from cinediff.pipelines.loading import LoadedModel, default_model_dir, export_model, load_model
from cinediff.pipelines.multistage import Pipeline, is_pipeline, load_pipeline, save_pipeline
from cinediff.pipelines.show1 import Show1Config, Show1Outputs, generate_show1
from cinediff.pipelines.text_to_video import GenerationConfig, generate_videos
from cinediff.pipelines.windows import blend_windows, window_starts

__all__ = [
    "CMDConfig", "CMDOutputs", "GenerationConfig", "LoadedModel", "Pipeline", "Show1Config", "Show1Outputs",
    "blend_windows", "default_model_dir", "export_model", "generate_cmd", "generate_show1", "generate_videos",
    "is_pipeline", "load_model", "load_pipeline", "save_pipeline", "window_starts",
]
