"""EDM preconditioning (Karras et al. 2022) with Snap Video's input scaling σ_in (METHODS.md §3a)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from cinediff.diffusion.precond import Precond, per_sample_normal


def snap_sigma_in(frames: int, height: int, width: int, base_height: int = 64, base_width: int = 64) -> float:
    """Snap Video input scaling ``σ_in = s · sqrt(T)``.

    *choice*: ``s = sqrt(H·W / (H0·W0))`` (s = 1 at the base resolution), i.e. the scale grows
    with the side length as in simple diffusion's resolution shift; images are T = 1.
    16 frames at the base resolution give σ_in = 4.
    """
    return math.sqrt(height * width / (base_height * base_width)) * math.sqrt(frames)


class EDMPrecond(Precond):
    """``D(x; σ) = c_skip x + c_out F(c_in x; c_noise)`` with EDM's Table 1 scalings.

    Snap Video: the data is divided by ``sigma_in`` before noising, so the effective data std
    is ``sigma_data / sigma_in`` in every scaling and in λ(σ); ``to_data`` multiplies back.
    ``sigma_in`` is a number, or ``"auto"`` to compute it from each input's (T, H, W)
    with :func:`snap_sigma_in` relative to ``base_resolution``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        sigma_data: float = 0.5,
        sigma_in: float | str = 1.0,
        base_resolution: tuple[int, int] = (64, 64),
        P_mean: float = -1.2,  # log-normal training σ: ln σ ~ N(P_mean, P_std²)
        P_std: float = 1.2,
        sigma_min: float = 0.002,  # default sampling range
        sigma_max: float = 80.0,
    ):
        super().__init__(backbone)
        if sigma_in != "auto" and not (isinstance(sigma_in, (int, float)) and sigma_in > 0):
            raise ValueError(f"sigma_in must be a positive number or 'auto', got {sigma_in!r}")
        self.sigma_data, self.sigma_in, self.base_resolution = sigma_data, sigma_in, base_resolution
        self.P_mean, self.P_std = P_mean, P_std
        self.sigma_min, self.sigma_max = sigma_min, sigma_max

    def input_scale(self, x: torch.Tensor) -> float:
        """σ_in for a batch shaped (B, C, T, H, W) or (B, C, H, W) (an image: T = 1)."""
        if self.sigma_in != "auto":
            return float(self.sigma_in)
        frames = x.shape[2] if x.ndim == 5 else 1
        return snap_sigma_in(frames, x.shape[-2], x.shape[-1], *self.base_resolution)

    def effective_sigma_data(self, x: torch.Tensor) -> float:
        return self.sigma_data / self.input_scale(x)

    def from_data(self, x0):
        return x0 / self.input_scale(x0)

    def to_data(self, x):
        return x * self.input_scale(x)

    def scalings(self, sigma, x):
        sd = self.effective_sigma_data(x)
        c_skip = sd**2 / (sigma**2 + sd**2)
        c_out = sigma * sd / (sigma**2 + sd**2).sqrt()
        c_in = 1 / (sigma**2 + sd**2).sqrt()
        c_noise = sigma.log() / 4
        return c_skip, c_out, c_in, c_noise

    def loss_weight(self, sigma: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """λ(σ) = (σ² + σ_d²) / (σ σ_d)², the weight of ``|D - x0|²`` (equals 1 / c_out²)."""
        sd = self.effective_sigma_data(x)
        return (sigma**2 + sd**2) / (sigma * sd) ** 2

    def sample_training_sigma(self, n: int, generators: Sequence[torch.Generator] | None = None) -> torch.Tensor:
        """Log-normal σ: ``exp(P_mean + P_std · N(0, 1))``, shape ``(n,)``."""
        return (self.P_mean + self.P_std * per_sample_normal(n, generators)).exp()
