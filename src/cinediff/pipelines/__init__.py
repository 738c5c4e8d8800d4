"""Pipelines compose loaded models (``cinediff.models``) into generation: the user-facing
``cinediff.load`` API (``api``), and chains of stages (Show-1, CMD) saved as a pipeline folder.
Single-model sampling is ``models.generate.generate_videos``; exporting runs is ``training.export``."""

from cinediff.models.generate import GenerationConfig, generate_videos
from cinediff.models.loading import LoadedModel, default_model_dir, load_model
from cinediff.pipelines.cmd import CMDConfig, CMDOutputs, generate_cmd
from cinediff.pipelines.multistage import Pipeline, is_pipeline, load_pipeline, save_pipeline
from cinediff.pipelines.show1 import Show1Config, Show1Outputs, generate_show1
from cinediff.pipelines.windows import blend_windows, window_starts

__all__ = [
    "CMDConfig", "CMDOutputs", "GenerationConfig", "LoadedModel", "Pipeline", "Show1Config", "Show1Outputs",
    "blend_windows", "default_model_dir", "generate_cmd", "generate_show1", "generate_videos",
    "is_pipeline", "load_model", "load_pipeline", "save_pipeline", "window_starts",
]
