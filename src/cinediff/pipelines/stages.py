"""A stage of a multi-stage pipeline: one exported model (``LoadedModel``) run by ``models.generate.generate``.

Stage seeds are derived from the sample's seed, so a chain's sample depends on its seed alone
(not on the batch): stage ``k`` (window ``n``) of sample ``b`` uses ``derive_seeds(seeds, k, n)[b]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from cinediff.models.loading import LoadedModel
from cinediff.models.generate import GenerationConfig, generate
from cinediff.pipelines.windows import blend_windows, window_starts
from cinediff.runtime import derive_seeds


@dataclass(frozen=True)
class Method:
    """A multi-stage method as a pipeline folder runs it (see ``pipelines.multistage``)."""

    stages: tuple[str, ...]  # required stage names (keys of ``pipeline.json``'s ``stages``)
    optional: tuple[str, ...]  # stages that may be left out
    config: type  # the method's dataclass config (fields of ``pipeline.json``'s ``config``)
    run: Callable  # run(models, prompts, seeds, config, device, **generation_overrides) -> outputs with .video
    fps_stage: str  # whose frame rate the final video has


def target_args(model: LoadedModel, target: str) -> dict:
    """The model's ``target_args``, after checking it was trained on ``target`` (catches swapped stages)."""
    model_config = model.config.get("model", {})
    got = model_config.get("target", "video")
    if got != target:
        raise ValueError(f"this stage needs a model trained with target {target!r}, got {got!r}")
    return dict(model_config.get("target_args", {}))


def run_stage(model: LoadedModel, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig | None,
              device, shape: Sequence[int] | None = None, **inputs) -> torch.Tensor:
    """``generate`` with ``model`` (its own clip shape unless ``shape``) and its default config
    unless ``config``; ``inputs``: ``cond_frames``, ``init``, ``autoencoder``, ``clamp``."""
    return generate(model, prompts, seeds, config, device, shape, decode=False, **inputs)


def run_windows(model: LoadedModel, cond: torch.Tensor, prompts: Sequence[str], seeds: Sequence[int],
                config: GenerationConfig | None, device, stride: int | None = None, align: int = 1,
                init: torch.Tensor | None = None) -> torch.Tensor:
    """A conditional video stage over conditioning frames ``cond (B, C_cond, T, H, W)`` of any length:
    windows of the model's trained length (every ``stride`` frames, default: length − 1, starts
    multiples of ``align``), window ``n`` seeded by ``derive_seeds(seeds, n)``, outputs blended
    (``windows.blend_windows``) → ``(B, C, T, H, W)``. ``init``: ``(B, C, T, H, W)`` SDEdit start."""
    total = cond.shape[2]
    size = min(model.shape[1], total)
    starts = window_starts(total, size, stride or max(size - 1, 1), align)
    outputs = []
    for n, start in enumerate(starts):
        part = slice(start, start + size)
        shape = (model.shape[0], size, *cond.shape[-2:])
        outputs.append(run_stage(model, prompts, derive_seeds(seeds, n), config, device, shape,
                                 cond_frames=cond[:, :, part], init=None if init is None else init[:, :, part]))
    return blend_windows(outputs, starts, total)
