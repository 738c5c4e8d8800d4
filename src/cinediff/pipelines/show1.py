"""Show-1 sampling (Zhang et al. 2023; METHODS.md §5): pixel keyframes → pixel interpolation →
pixel super-resolution → (optional) latent expert translation.

Each stage is a function of one exported model (``LoadedModel``) and runs on its own; :func:`generate_show1`
chains them and returns every intermediate output. Every stage is ``generate_videos`` — with
conditioning frames (interpolation, super-resolution) and/or an SDEdit start (super-resolution,
expert) — run over temporal windows of the model's trained length where the clip is longer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from cinediff.models.loading import LoadedModel
from cinediff.runtime import derive_seeds
from cinediff.pipelines.stages import Method, run_stage, run_windows, target_args
from cinediff.models.generate import GenerationConfig
from cinediff.models.targets import keyframe_condition, resize_frames


@dataclass
class Show1Config:
    superres_strength: float = 0.25  # SDEdit start of super-resolution: noise to t ≈ 250 of 1000 (paper)
    expert_strength: float = 0.8  # SDEdit start of the expert translation: t ≈ 800 of 1000 (paper)
    interpolation_stride: int | None = None  # frames between interpolation windows (None: window − 1)
    superres_stride: int | None = None  # frames between super-resolution windows (None: window − 1; paper: 8 / 7)
    replace_keyframes: bool = True  # put the keyframes back in their slots after interpolation
    stages: dict = field(default_factory=dict)  # per-stage generation overrides, e.g. {"keyframes": {"guidance": 9.0}}


@dataclass
class Show1Outputs:
    keyframes: torch.Tensor  # (B, C, K, h, w)
    interpolated: torch.Tensor  # (B, C, (K − 1)·s + 1, h, w), s = the interpolation model's keyframe stride
    superres: torch.Tensor  # (B, C, T, f·h, f·w), f = the super-resolution model's factor
    expert: torch.Tensor | None = None  # (B, C, T, H_e, W_e): the expert's pixel size

    @property
    def video(self) -> torch.Tensor:
        return self.expert if self.expert is not None else self.superres


def keyframes(model: LoadedModel, prompts: Sequence[str], seeds: Sequence[int],
              config: GenerationConfig | None = None, device="cpu") -> torch.Tensor:
    """Stage 1: text → keyframes ``(B, C, K, h, w)``, the clip shape of this pixel text-to-video model."""
    target_args(model, "video")
    return run_stage(model, prompts, seeds, config, device)


def interpolate(model: LoadedModel, frames: torch.Tensor, prompts: Sequence[str], seeds: Sequence[int],
                config: GenerationConfig | None = None, device="cpu", stride: int | None = None,
                replace_keyframes: bool = True) -> torch.Tensor:
    """Stage 2: keyframes ``(B, C, K, h, w)`` → ``(B, C, (K − 1)·s + 1, h, w)``, s = the model's
    ``target_args.stride``: conditioned on the keyframes in their slots + mask (``keyframe_condition``),
    windows of the model's trained length starting on keyframe slots (``stride`` frames apart)."""
    s = target_args(model, "keyframes-interpolation").get("stride", 4)
    b, c, k, h, w = frames.shape
    slots = frames.new_zeros(b, c, (k - 1) * s + 1, h, w)
    slots[:, :, ::s] = frames
    video = run_windows(model, keyframe_condition(slots, s), prompts, seeds, config, device, stride, align=s)
    if replace_keyframes:
        video[:, :, ::s] = frames.to(video)
    return video


def super_resolve(model: LoadedModel, video: torch.Tensor, prompts: Sequence[str], seeds: Sequence[int],
                  config: GenerationConfig | None = None, device="cpu", stride: int | None = None) -> torch.Tensor:
    """Stage 3: ``(B, C, T, h, w)`` → ``(B, C, T, f·h, f·w)``, f = the model's ``target_args.factor``:
    conditioned on the bilinearly upsampled clip, which is also the SDEdit start when
    ``config.strength < 1`` (Show-1: 0.25); windows of the model's trained length, blended."""
    f = target_args(model, "super-resolution").get("factor", 4)
    up = resize_frames(video, (f * video.shape[-2], f * video.shape[-1]))
    return run_windows(model, up, prompts, seeds, config, device, stride, init=up)


@torch.no_grad()
def translate(model: LoadedModel, video: torch.Tensor, prompts: Sequence[str], seeds: Sequence[int],
              config: GenerationConfig | None = None, device="cpu",
              size: tuple[int, int] | None = None) -> torch.Tensor:
    """Stage 4, expert translation by any latent text-to-video model: ``(B, C, T, H, W)`` resized to
    ``size`` (default: the model's latent size × its autoencoder's spatial factor), encoded, SDEdit
    from that latent at ``config.strength`` (Show-1: 0.8), decoded → ``(B, C, T, *size)``."""
    autoencoder = model.decoder
    if autoencoder is None:
        raise ValueError("the expert stage needs a latent text-to-video model (an export with an autoencoder)")
    size = size or tuple(n * autoencoder.spatial_factor for n in model.shape[-2:])
    latent = autoencoder.encode(resize_frames(video, size).to(device))  # (B, C_z, T′, H_z, W_z)
    return run_stage(model, prompts, seeds, config, device, latent.shape[1:], init=latent, autoencoder=autoencoder)


@torch.no_grad()
def generate_show1(models: dict[str, LoadedModel], prompts: Sequence[str], seeds: Sequence[int],
                   config: Show1Config | None = None, device="cpu", **overrides) -> Show1Outputs:
    """The chain: ``models`` by stage name (``keyframes``, ``interpolation``, ``superres``, optional
    ``expert``); each stage runs with its model's generation defaults, then ``config.stages[name]``,
    then ``overrides`` (all stages, e.g. ``steps=``), the SDEdit strengths of ``config`` last."""
    config = config or Show1Config()

    def stage(name: str, **fixed) -> GenerationConfig:
        return models[name].generation_config(config.stages.get(name, {}), overrides, fixed)

    key = keyframes(models["keyframes"], prompts, seeds, stage("keyframes"), device)
    mid = interpolate(models["interpolation"], key, prompts, derive_seeds(seeds, 1), stage("interpolation"), device,
                      config.interpolation_stride, config.replace_keyframes)
    high = super_resolve(models["superres"], mid, prompts, derive_seeds(seeds, 2),
                         stage("superres", strength=config.superres_strength), device, config.superres_stride)
    expert = None
    if models.get("expert") is not None:
        expert = translate(models["expert"], high, prompts, derive_seeds(seeds, 3),
                           stage("expert", strength=config.expert_strength), device)
    return Show1Outputs(key, mid, high, expert)


METHOD = Method(stages=("keyframes", "interpolation", "superres"), optional=("expert",), config=Show1Config,
                run=generate_show1, fps_stage="interpolation")
