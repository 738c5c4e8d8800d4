"""One entry point from noise to data: prior noise (or SDEdit: data + noise) → sampler → data scale."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cinediff.noise import NoisePrior, noise_sampler
from cinediff.samplers.sampling import SAMPLERS


def sample(
    denoiser,
    shape: Sequence[int],
    sigmas: torch.Tensor,
    sampler: str = "heun",
    prior: NoisePrior | None = None,
    generators: Sequence[torch.Generator] | None = None,
    device: torch.device | str = "cpu",
    extra_args: dict | None = None,
    callback=None,
    disable: bool | None = None,
    init: torch.Tensor | None = None,
    **sampler_kwargs,
) -> torch.Tensor:
    """Draw samples of ``shape = (B, C, [T,] H, W)`` in data scale.

    The initial noise and every stochastic step use ``prior`` with sample b's own generator
    ``generators[b]``, so a sample does not depend on the batch it was drawn in.

    ``init`` (data scale, ``shape``) starts the sampler from ``from_data(init) + sigmas[0] · noise``
    instead of pure noise (SDEdit, Meng et al. 2022); the caller truncates ``sigmas`` (see
    :func:`cinediff.samplers.sdedit_sigmas`). The noise is drawn the same way with or without it.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {sorted(SAMPLERS)}")
    prior = prior or NoisePrior()
    x = prior(shape, generators, device=device) * sigmas[0]
    if init is not None:
        from_data = getattr(denoiser, "from_data", lambda x0: x0)
        x = x + from_data(init.to(device=device, dtype=torch.float32))
    draw = noise_sampler(prior, x, generators)
    x = SAMPLERS[sampler](denoiser, x, sigmas, extra_args=extra_args, callback=callback, disable=disable,
                          noise_sampler=draw, **sampler_kwargs)
    to_data = getattr(denoiser, "to_data", None)
    return to_data(x) if to_data is not None else x
