"""CMD sampling (Yu et al. 2024; METHODS.md §4): content frame → motion latent → decode.

Two exported models: an image model of content frames (target ``cmd-content``) and a motion
model (target ``cmd-motion``) conditioned on text and the content frame (``cond_frames``); the
CMD autoencoder shipped beside the motion model decodes ``(content, motion)`` to the video.
Each stage is ``generate_videos`` and runs on its own; :func:`generate_cmd` chains them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from cinediff.models.loading import LoadedModel
from cinediff.runtime import derive_seeds
from cinediff.pipelines.stages import Method, run_stage, target_args
from cinediff.models.generate import GenerationConfig


@dataclass
class CMDConfig:
    stages: dict = field(default_factory=dict)  # per-stage generation overrides, e.g. {"motion": {"guidance": 7.5}}


@dataclass
class CMDOutputs:
    content: torch.Tensor  # (B, C, H, W) content frames
    motion: torch.Tensor  # (B, D, T, H′ + W′) motion latents
    video: torch.Tensor  # (B, C, T, H, W) decoded


def content_frames(model: LoadedModel, prompts: Sequence[str], seeds: Sequence[int],
                   config: GenerationConfig | None = None, device="cpu") -> torch.Tensor:
    """Stage 1: text → content frames ``(B, C, H, W)`` (the model's shape is ``(C, H, W)`` or ``(C, 1, H, W)``;
    a latent content model's samples are decoded by its frame autoencoder)."""
    target_args(model, "cmd-content")
    frames = run_stage(model, prompts, seeds, config, device, autoencoder=model.decoder)
    return frames[:, :, 0] if frames.ndim == 5 else frames


def motion_latents(model: LoadedModel, content: torch.Tensor, prompts: Sequence[str], seeds: Sequence[int],
                   config: GenerationConfig | None = None, device="cpu") -> torch.Tensor:
    """Stage 2: text + content frames ``(B, C, H, W)`` → motion latents ``(B, D, T, H′ + W′)``
    (undecoded, unclipped)."""
    target_args(model, "cmd-motion")
    return run_stage(model, prompts, seeds, config, device, cond_frames=content, clamp=False)


@torch.no_grad()
def decode(model: LoadedModel, content: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
    """The motion model's CMD autoencoder: ``(content, motion)`` → video ``(B, C, T, H, W)`` in [-1, 1]."""
    if model.autoencoder is None:
        raise ValueError("the motion model's export holds no CMD autoencoder")
    return model.autoencoder.decode(content.to(motion), motion).clamp(-1, 1)


@torch.no_grad()
def generate_cmd(models: dict[str, LoadedModel], prompts: Sequence[str], seeds: Sequence[int],
                 config: CMDConfig | None = None, device="cpu", **overrides) -> CMDOutputs:
    """The chain: ``models["content"]`` → ``models["motion"]`` → decode; each stage runs with its
    model's generation defaults, then ``config.stages[name]``, then ``overrides`` (all stages)."""
    config = config or CMDConfig()

    def stage(name: str) -> GenerationConfig:
        return models[name].generation_config(config.stages.get(name, {}), overrides)

    content = content_frames(models["content"], prompts, seeds, stage("content"), device)
    motion = motion_latents(models["motion"], content, prompts, derive_seeds(seeds, 1), stage("motion"), device)
    return CMDOutputs(content, motion, decode(models["motion"], content, motion))


METHOD = Method(stages=("content", "motion"), optional=(), config=CMDConfig, run=generate_cmd, fps_stage="motion")
