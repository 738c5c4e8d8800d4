"""The Python API: ``cinediff.load(name_or_dir)`` → a pipeline you call with a prompt, diffusers-style.

    import cinediff
    pipe = cinediff.load("default")
    out = pipe("a red circle moving left", seed=0)
    cinediff.export_to_video(out.frames[0], "out.mp4", fps=pipe.fps)

One object for every kind of model: a shipped name (``default``), an exported model folder
(``cinediff export``) or a multi-stage pipeline folder (Show-1, CMD: ``cinediff pipeline``). The
call applies the model's own generation defaults (its noise prior, frame rate, steps, guidance),
so leaving an argument out never silently changes the method. Sample ``i`` is drawn from its own
seed alone (``batch_invariant``): same seed → same frames whatever else is in the batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from cinediff.models.loading import LoadedModel, load_model, resolve_model_dir
from cinediff.pipelines.multistage import Pipeline, is_pipeline, load_pipeline
from cinediff.models.generate import generate

OUTPUT_TYPES = ("np", "pt", "pil")
INIT_STRENGTH = 0.6  # SDEdit strength when an init is given without one


@dataclass
class VideoPipelineOutput:
    """``frames``: one entry per video — ``"np"``: uint8 ``(T, H, W, 3)``; ``"pt"``: float ``(T, 3, H, W)``
    in [0, 1]; ``"pil"``: a list of T ``PIL.Image``. ``settings``: what was used (prompts, the
    prompts as the model read them, seeds, generation config), enough to reproduce the call."""

    frames: list
    settings: dict = field(default_factory=dict)


def check_prompts(prompt: str | Sequence[str], name: str = "prompt") -> list[str]:
    """A prompt or a list of them → a list (a plain string is one prompt, not its characters)."""
    if isinstance(prompt, str):
        return [prompt]
    prompts = list(prompt)
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError(f"{name} must be a string or a non-empty list of strings, got {prompt!r}")
    return prompts


def sample_seeds(count: int, seed: int | Sequence[int] | None, generator: torch.Generator | None) -> list[int]:
    """Per-video seeds: ``seed`` (an int: seed, seed + 1, ...; or one per video), else drawn from
    ``generator`` (or torch's global generator) — a seeded generator gives the same seeds each time."""
    from cinediff.runtime import check_seed

    if seed is not None and generator is not None:
        raise ValueError("give seed or generator, not both")
    if seed is None:
        drawn = torch.randint(0, 2**62, (count,), generator=generator)
        return [int(s) for s in drawn]
    if isinstance(seed, Sequence):
        if len(seed) != count:
            raise ValueError(f"got {len(seed)} seeds for {count} videos")
        return [check_seed(s) for s in seed]
    check_seed(seed), check_seed(seed + count - 1)
    return [seed + i for i in range(count)]


def as_init_clip(init, frames: int, size: tuple[int, int]) -> torch.Tensor:
    """An image or clip → ``(3, frames, H, W)`` float in [-1, 1] at ``size``: a file path (any video
    or image file ``read_video`` decodes), a uint8 array ``(H, W, 3)`` / ``(T, H, W, 3)``, or a float
    tensor in [-1, 1] ``(3, H, W)`` / ``(3, T, H, W)``. An image is repeated over the frames; a clip
    is cut or its last frame repeated to ``frames``."""
    from cinediff.io.video import from_uint8_frames, read_video, resize_crop

    if isinstance(init, (str, os.PathLike)):
        clip = read_video(init, num_frames=frames)
    elif isinstance(init, np.ndarray) or (torch.is_tensor(init) and init.dtype == torch.uint8):
        array = np.asarray(init)
        if array.ndim not in (3, 4) or array.shape[-1] != 3:
            raise ValueError(f"init array must be uint8 (H, W, 3) or (T, H, W, 3), got shape {array.shape}")
        clip = from_uint8_frames(array[None] if array.ndim == 3 else array)
    elif torch.is_tensor(init):
        if init.ndim not in (3, 4) or init.shape[0] != 3:
            raise ValueError(f"init tensor must be (3, H, W) or (3, T, H, W) in [-1, 1], got {tuple(init.shape)}")
        clip = (init[:, None] if init.ndim == 3 else init).float()
    else:
        raise ValueError(f"init must be a file path, a uint8 array or a tensor, got {type(init).__name__}")
    clip = clip[:, :frames]
    if clip.shape[1] < frames:
        clip = torch.cat([clip, clip[:, -1:].expand(-1, frames - clip.shape[1], -1, -1)], dim=1)
    return resize_crop(clip.cpu(), size) if tuple(clip.shape[-2:]) != tuple(size) else clip.cpu()


def to_output(videos: torch.Tensor, output_type: str) -> list:
    """Videos ``(B, 3, T, H, W)`` in [-1, 1] → one output per video (see :class:`VideoPipelineOutput`)."""
    from cinediff.io.video import to_uint8_frames

    if output_type == "pt":
        return [((v.float().cpu().clamp(-1, 1) + 1) / 2).permute(1, 0, 2, 3) for v in videos]
    frames = [to_uint8_frames(v) for v in videos]
    if output_type == "pil":
        from PIL import Image

        return [[Image.fromarray(f) for f in video] for video in frames]
    return frames


def move(model: LoadedModel, device) -> LoadedModel:
    """Every module of ``model`` on ``device`` (in place)."""
    for module in (model.denoiser, model.text_encoder, model.autoencoder, model.latent_autoencoder):
        if module is not None:
            module.to(device)
    return model


class TextToVideoPipeline:
    """What :func:`load` returns: call it with prompts; ``.to(device)``; ``.fps``; ``.model`` (the
    ``LoadedModel``) or ``.stages`` (a multi-stage ``Pipeline``)."""

    def __init__(self, model: LoadedModel | Pipeline, source: str, device: str):
        self.model, self.source, self.device = model, source, device

    @property
    def is_multistage(self) -> bool:
        return isinstance(self.model, Pipeline)

    @property
    def fps(self) -> float:
        return self.model.fps

    def to(self, device) -> TextToVideoPipeline:
        from cinediff.runtime import check_device

        self.device = str(check_device(str(device)))
        for model in self.model.models.values() if self.is_multistage else [self.model]:
            move(model, self.device)
        return self

    def __repr__(self) -> str:
        kind = f"{self.model.method} pipeline" if self.is_multistage else f"shape {tuple(self.model.shape)}"
        return f"TextToVideoPipeline({self.source!r}, {kind}, fps={self.fps}, device={self.device!r})"

    @torch.no_grad()
    def __call__(self, prompt: str | Sequence[str], negative_prompt: str | None = None,
                 num_inference_steps: int | None = None, guidance_scale: float | None = None,
                 seed: int | Sequence[int] | None = None, generator: torch.Generator | None = None,
                 num_videos_per_prompt: int = 1, output_type: str = "np", init=None, strength: float | None = None,
                 callback_on_step_end: Callable | None = None, sampler: str | None = None,
                 noise_prior: str | None = None, noise_alpha: float | None = None,
                 color_names: bool | None = None, ground_words: bool | None = None,
                 layers: bool | None = None) -> VideoPipelineOutput:
        """Videos for ``prompt`` (each prompt ``num_videos_per_prompt`` times, in order).

        ``seed``: an int (video i gets seed + i) or one per video; else drawn from ``generator``.
        ``init``: an image or clip (path, uint8 array, or tensor in [-1, 1]) to start from, SDEdit
        at ``strength`` (diffusers img2img: 1 = ignore the init, 0.3 = keep most of it; default 0.6); latent
        models encode it themselves. ``callback_on_step_end(pipe, step, sigma, {"latents", "denoised"})``
        is called after every sampler step (its return value is ignored). ``color_names``: read colour
        names the model was not trained on as its nearest colour word; ``ground_words``: read shape and
        motion wording it was not trained on as its nearest trained wording (``text.grounding``; only
        with ``color_names``; both default on; ``settings["read_as"]`` holds the prompts as read).
        ``layers``: draw each " and "-joined object phrase as a video of its own and composite them
        (``models.composition``; default: the model's setting).
        """
        from cinediff.runtime import autocast, bf16_is_fast

        if output_type not in OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}")
        if num_videos_per_prompt < 1:
            raise ValueError(f"num_videos_per_prompt must be ≥ 1, got {num_videos_per_prompt}")
        prompts = [p for p in check_prompts(prompt) for _ in range(num_videos_per_prompt)]
        seeds = sample_seeds(len(prompts), seed, generator)
        overrides = {"steps": num_inference_steps, "guidance": guidance_scale, "negative_prompt": negative_prompt,
                     "sampler": sampler, "noise_prior": noise_prior, "noise_alpha": noise_alpha,
                     "color_names": color_names, "ground_words": ground_words, "layers": layers}
        overrides = {k: v for k, v in overrides.items() if v is not None}
        with autocast(self.device, enabled=bf16_is_fast(self.device)):
            if self.is_multistage:
                if init is not None or strength is not None or callback_on_step_end is not None:
                    raise ValueError("init, strength and callback_on_step_end work with single-model pipelines; "
                                     f"{self.source} is a {self.model.method} pipeline")
                videos = torch.cat([self.model([p], [s], self.device, **overrides).video for p, s in zip(prompts, seeds)])
                first = next(iter(self.model.models.values()))  # every stage reads the prompt alike
                generation = {"pipeline": self.model.method, **overrides}
                read = first.read_prompts(prompts, first.generation_config(overrides))
            else:
                videos, generation, read = self.generate(prompts, seeds, overrides, init, strength, callback_on_step_end)
        settings = {"model": self.source, "prompts": prompts, "read_as": read, "seeds": seeds, "fps": self.fps,
                    "generation": generation}
        return VideoPipelineOutput(to_output(videos.float(), output_type), settings)

    def generate(self, prompts: list[str], seeds: list[int], overrides: dict, init, strength: float | None,
                 callback: Callable | None) -> tuple[torch.Tensor, dict, list[str]]:
        """Videos, the generation settings used, and the prompts as the model read them."""
        model = self.model
        target = model.config.get("model", {}).get("target", "video")
        if target != "video":
            raise ValueError(f"{self.source} is a {target!r} model, one stage of a multi-stage method: load its "
                             "pipeline folder instead (cinediff pipeline ...)")
        if strength is not None and not 0 < strength <= 1:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        if init is not None and strength is None:
            strength = INIT_STRENGTH
        config = model.generation_config(overrides, {"strength": strength})
        start = None
        if init is not None:
            frames, height, width = model.pixel_shape()
            clip = as_init_clip(init, frames, (height, width)).to(self.device)
            start = clip if model.decoder is None else model.decoder.encode(clip[None])[0]
            start = start[None].expand(len(prompts), *start.shape)
        step_callback = None
        if callback is not None:
            def step_callback(info: dict) -> None:
                callback(self, info["i"], float(info["sigma"]), {"latents": info["x"], "denoised": info["denoised"]})
        read, literal = model.read_for_generation(prompts, config)
        videos = generate(model, read, seeds, literal, self.device, init=start, batch_invariant=True,
                          callback=step_callback)
        return videos, asdict(config), read


def load(name_or_dir: str | os.PathLike | None = "default", device: str | torch.device | None = None,
         allow_outside: bool = False) -> TextToVideoPipeline:
    """A pipeline for a shipped model's name (``"default"``), an exported model folder, or a
    multi-stage pipeline folder; on ``device`` (default: CUDA when available, else CPU)."""
    from cinediff.runtime import check_device, default_device

    dev = str(check_device(str(device))) if device is not None else str(default_device())
    folder = resolve_model_dir(name_or_dir)
    if is_pipeline(folder):
        return TextToVideoPipeline(load_pipeline(folder, dev, allow_outside), str(name_or_dir), dev)
    return TextToVideoPipeline(load_model(folder, dev, allow_outside), str(name_or_dir or "default"), dev)


def export_to_video(frames, path: str | os.PathLike, fps: float = 8.0) -> list[Path]:
    """Write one video's frames to ``path`` (.mp4, .gif, ...): a uint8 array ``(T, H, W, 3)``, a float
    tensor ``(T, 3, H, W)`` in [0, 1] (the pipeline's ``"pt"`` output), or a list of PIL images.
    Returns the files written (``write_video`` adds a JSON sidecar for mp4)."""
    from cinediff.io.video import from_uint8_frames, write_video

    if isinstance(frames, (list, tuple)):
        if not frames:
            raise ValueError("export_to_video got no frames")
        frames = np.stack([np.asarray(f.convert("RGB")) if hasattr(f, "convert") else np.asarray(f) for f in frames])
    if torch.is_tensor(frames) and frames.is_floating_point():
        if frames.ndim != 4 or frames.shape[1] != 3:
            raise ValueError(f"a float frames tensor must be (T, 3, H, W) in [0, 1], got {tuple(frames.shape)}")
        video = frames.detach().float().cpu().permute(1, 0, 2, 3) * 2 - 1
    else:
        array = np.asarray(frames.cpu() if torch.is_tensor(frames) else frames)
        if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 (T, H, W, 3), got {array.dtype} {array.shape}")
        video = from_uint8_frames(array)
    return write_video(path, video, fps=fps)
