"""Single-stage text-to-video: prompts → text tokens → guided denoiser → sampler → videos.

Every stage of the multi-stage pipelines (``show1``, ``cmd``) is one call of :func:`generate_videos`,
with conditioning frames (``cond_frames``) and/or an SDEdit start (``init`` + ``strength``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from cinediff.models.composition import generate_layered
from cinediff.noise import noise_prior
from cinediff.runtime import sample_generators
from cinediff.samplers import (
    ClassifierFreeGuidance,
    SelfConditioning,
    make_sigmas,
    sample,
    sdedit_sigmas,
    self_conditioned,
)
from cinediff.text import check_prompt, reads_token_ids, text_condition


def generation_problems(steps: int | None = None, sampler: str | None = None, noise_prior: str | None = None,
                        noise_alpha: float | None = None, fps: float | None = None,
                        strength: float | None = None) -> dict[str, str]:
    """What is wrong with generation settings a user typed (None: the model's own), as
    ``{field: "must be ..., got ..."}`` — empty when all are fine. The CLI and the demo both ask."""
    from cinediff.noise import DEFAULT_ALPHA
    from cinediff.samplers import SAMPLERS

    rules = {"steps": (steps, lambda v: v >= 1, "≥ 1"),
             "sampler": (sampler, lambda v: v in SAMPLERS, f"one of {sorted(SAMPLERS)}"),
             "noise_prior": (noise_prior, lambda v: v in DEFAULT_ALPHA, f"one of {sorted(DEFAULT_ALPHA)}"),
             "noise_alpha": (noise_alpha, lambda v: v >= 0, "≥ 0"),
             "fps": (fps, lambda v: v > 0, "> 0"),
             "strength": (strength, lambda v: 0 < v <= 1, "in (0, 1]")}
    return {field: f"must be {need}, got {value!r}" for field, (value, ok, need) in rules.items()
            if value is not None and not ok(value)}


@dataclass
class GenerationConfig:
    steps: int = 24  # sampler steps (Heun uses ~2 network calls per step)
    sampler: str = "heun"  # heun | euler | ddim | dpmpp_2m
    schedule: str = "karras"  # karras | uniform (VP models)
    guidance: float = 5.0  # classifier-free guidance scale; 1 disables the unconditional branch
    negative_prompt: str = ""  # the unconditional branch's prompt
    noise_prior: str = "iid"  # iid | mixed | progressive
    noise_alpha: float | None = None
    fps: float = 8.0  # frame-rate conditioning (models that use it)
    strength: float = 1.0  # with an init: SDEdit start, the last int(steps·strength) steps run (1: pure noise)
    color_names: bool = True  # loaded models: read colour names never trained on as the nearest trained one
    ground_words: bool = True  # loaded models, with color_names: clauses in unseen wording read as trained wording
    layers: bool = False  # loaded models: draw each " and "-joined object phrase alone, composited (models.composition)


@torch.no_grad()
def generate_videos(
    denoiser,
    text_encoder,
    prompts: Sequence[str],
    shape: Sequence[int],
    seeds: Sequence[int],
    config: GenerationConfig | None = None,
    device: torch.device | str = "cpu",
    disable_progress: bool | None = None,
    autoencoder=None,
    cond_frames: torch.Tensor | None = None,
    init: torch.Tensor | None = None,
    clamp: bool = True,
    batch_invariant: bool = False,
    callback=None,
) -> torch.Tensor:
    """Videos ``(B, C, T, H, W)`` in [-1, 1] for ``prompts`` with per-sample ``seeds``.

    ``shape = (C, T, H, W)`` is the space the denoiser works in (``(C, H, W)`` gives images); with
    ``autoencoder`` that is its latent space and the samples are decoded to pixels.
    ``cond_frames``: ``(B, C_cond, ...)`` extra input channels of a conditional stage (backbone
    contract), shared by both guidance branches. ``init``: ``(B, *shape)`` in the denoiser's data
    scale; with ``config.strength < 1`` sampling starts from it plus noise and runs the last
    ``int(steps · strength)`` steps (diffusers img2img); with strength 1 it is ignored.
    ``clamp=False`` returns the samples unclipped (latents returned undecoded, e.g. CMD's motion).
    ``callback(info)`` after every sampler step (k-diffusion's dict: ``x``, ``i``, ``sigma``, ``denoised``).

    Same seed, same video: for one batch, bit for bit; across batches of other sizes or contents,
    equal to ~1e-4 (matrix kernels block the batch differently; measured ≤ 4.4e-5, under one 8-bit
    colour level). ``batch_invariant=True`` samples one video at a time, so video i is bit-identical
    to sampling ``prompts[i]`` with ``seeds[i]`` alone, whatever else is in the batch."""
    if batch_invariant and len(prompts) > 1:
        one = lambda x, i: None if x is None else x[i : i + 1]  # noqa: E731
        return torch.cat([generate_videos(denoiser, text_encoder, [p], shape, [s], config, device, disable_progress,
                                          autoencoder, one(cond_frames, i), one(init, i), clamp, callback=callback)
                          for i, (p, s) in enumerate(zip(prompts, seeds, strict=True))])
    config = config or GenerationConfig()
    prompts = [check_prompt(p) for p in prompts]
    if len(seeds) != len(prompts):
        raise ValueError(f"got {len(seeds)} seeds for {len(prompts)} prompts")
    sigmas = make_sigmas(denoiser, config.steps, config.schedule)
    if init is not None and config.strength < 1:
        sigmas = sdedit_sigmas(sigmas, config.strength)
    else:
        init = None  # strength 1: pure noise, the same draws as without an init
    ids = reads_token_ids(denoiser)
    if self_conditioned(denoiser):  # FIT trained with self-conditioning: each call reads the last one's latents
        denoiser = SelfConditioning(denoiser)
    cond = {}
    if text_encoder is not None:
        cond = text_condition(text_encoder, prompts, ids)
        uncond = text_condition(text_encoder, [config.negative_prompt] * len(prompts), ids)
        denoiser = ClassifierFreeGuidance(denoiser, config.guidance, uncond)
    cond["fps"] = torch.full((len(prompts),), float(config.fps), device=device)
    if cond_frames is not None:
        cond["cond_frames"] = cond_frames.to(device)
    video = sample(denoiser, (len(prompts), *shape), sigmas, config.sampler,
                   noise_prior(config.noise_prior, config.noise_alpha), sample_generators(list(seeds)),
                   device=device, extra_args=cond, callback=callback, disable=disable_progress, init=init)
    if autoencoder is not None:
        video = autoencoder.decode(video.float())
    return video.clamp(-1, 1) if clamp else video


def generate(loaded, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig | None = None,
             device: torch.device | str = "cpu", shape: Sequence[int] | None = None, decode: bool = True,
             **inputs) -> torch.Tensor:
    """:func:`generate_videos` with a loaded model's own parts and defaults: the prompts as it reads
    them (:meth:`~cinediff.models.loading.LoadedModel.read_prompts`), its denoiser and text encoder,
    its shape (unless ``shape``), its generation config (its noise prior, fps, ...) unless ``config``,
    and — with ``decode`` — its decoder, so samples come back as pixels. ``inputs``: ``init``,
    ``cond_frames``, ``clamp``, ``batch_invariant``, ``callback``, ``disable_progress``,
    ``autoencoder`` (instead of the model's).

    With ``config.layers`` a prompt of several " and "-joined phrases is drawn one phrase at a time
    and composited (:mod:`cinediff.models.composition`; videos from noise and text only: not images,
    not with ``init``, ``cond_frames`` or unclamped or undecoded latents); ``callback`` then sees the
    phrases' batch."""
    if decode and "autoencoder" not in inputs:
        inputs["autoencoder"] = loaded.decoder
    inputs.setdefault("disable_progress", True)
    config = config or loaded.generation_config()
    prompts = loaded.read_prompts(prompts, config)
    from_noise = inputs.get("init") is None or config.strength >= 1  # (strength 1 ignores the init)
    shape = tuple(shape or loaded.shape)
    pixels = (inputs.get("autoencoder") is not None or loaded.decoder is None) and inputs.get("clamp", True)
    video_from_text = len(shape) == 4 and loaded.text_encoder is not None and inputs.get("cond_frames") is None
    if config.layers and from_noise and pixels and video_from_text:
        inputs.pop("init", None)
        return generate_layered(lambda p, s: generate_videos(loaded.denoiser, loaded.text_encoder, p, shape, s,
                                                             config, device, **inputs), prompts, seeds)
    return generate_videos(loaded.denoiser, loaded.text_encoder, prompts, shape, seeds, config, device, **inputs)
