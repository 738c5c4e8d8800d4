"""Noise-level schedules: decreasing σ tensors ending in the final level (usually 0)."""

from __future__ import annotations

import torch

from cinediff.diffusion.vp import vp_sigmas, vp_timesteps  # uniform-timestep schedules of VP models


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> torch.Tensor:
    """EDM eq. 5: ``σ_i = (σ_max^(1/ρ) + i/(n-1) (σ_min^(1/ρ) - σ_max^(1/ρ)))^ρ``, then 0; shape ``(n + 1,)``."""
    if n < 1:
        raise ValueError(f"need at least one sampling step, got {n}")
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    min_inv, max_inv = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (max_inv + ramp * (min_inv - max_inv)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)]).float()


def make_sigmas(denoiser, n: int, schedule: str = "karras", rho: float = 7.0, spacing: str = "trailing") -> torch.Tensor:
    """The named schedule over a denoiser's own range: ``karras`` (between its ``sigma_min`` and
    ``sigma_max``) or ``uniform`` (uniform timesteps of a VP model's training table)."""
    if schedule == "karras":
        return karras_sigmas(n, denoiser.sigma_min, denoiser.sigma_max, rho)
    if schedule == "uniform":
        if not hasattr(denoiser, "schedule"):
            raise ValueError("the 'uniform' schedule needs a VP model (a discrete timestep table)")
        return vp_sigmas(denoiser.schedule, n, spacing=spacing)
    raise ValueError(f"unknown schedule {schedule!r}; choose karras or uniform")


def sdedit_sigmas(sigmas: torch.Tensor, strength: float) -> torch.Tensor:
    """The tail of an ``(n + 1,)`` schedule for an SDEdit start at ``strength`` ∈ [0, 1]: the last
    ``int(n · strength)`` steps, as diffusers' img2img ``get_timesteps`` (strength 1: all n steps,
    strength 0: none, ``(1,)``)."""
    if not 0 <= strength <= 1:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    n = len(sigmas) - 1
    return sigmas[n - min(int(n * strength), n):]


__all__ = ["karras_sigmas", "make_sigmas", "sdedit_sigmas", "vp_sigmas", "vp_timesteps"]
