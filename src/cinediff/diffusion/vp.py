"""Variance-preserving (DDPM family) diffusion as a preconditioning of the denoiser contract.

A discrete VP process ``x_t = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) ε`` is the VE process
``x = x0 + σ ε`` with ``σ_t = sqrt((1 - ᾱ_t) / ᾱ_t)`` and ``x_t = x / sqrt(1 + σ²)``
(k-diffusion ``external.py``). ε-, v- and x0-prediction are three choices of
``(c_skip, c_out)``; the backbone sees ``x_t`` and the (fractional) timestep ``t``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from cinediff.diffusion.precond import Precond, per_sample_uniform

# ᾱ_T of a zero-terminal-SNR schedule is 0 (σ = ∞); for sampling it is clamped to this value,
# as diffusers does, so the VE-coordinate samplers stay finite (σ_max ≈ 4096).
ZERO_SNR_ALPHA_BAR = 2.0**-24


def beta_schedule(name: str, num_steps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012) -> torch.Tensor:
    """β_t for t = 0..N-1 (float64): ``linear`` (DDPM), ``scaled_linear`` (Stable Diffusion),
    ``cosine`` (Nichol & Dhariwal 2021, β capped at 0.999)."""
    if name == "linear":
        return torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
    if name == "scaled_linear":
        return torch.linspace(beta_start**0.5, beta_end**0.5, num_steps, dtype=torch.float64) ** 2
    if name == "cosine":
        def alpha_bar(t):
            return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

        betas = [min(1 - alpha_bar((i + 1) / num_steps) / alpha_bar(i / num_steps), 0.999) for i in range(num_steps)]
        return torch.tensor(betas, dtype=torch.float64)
    raise ValueError(f"unknown beta schedule {name!r}; choose linear, scaled_linear or cosine")


def rescale_zero_terminal_snr(betas: torch.Tensor) -> torch.Tensor:
    """Rescale β so the last step has zero SNR (Lin et al. 2024, "Common Diffusion Noise
    Schedules and Sample Steps are Flawed", Algorithm 1): shift and scale sqrt(ᾱ) so that
    sqrt(ᾱ_T) = 0 while sqrt(ᾱ_0) is unchanged."""
    sqrt_ab = (1 - betas).cumprod(0).sqrt()
    first, last = sqrt_ab[0].clone(), sqrt_ab[-1].clone()
    sqrt_ab = (sqrt_ab - last) * first / (first - last)
    alpha_bar = sqrt_ab**2
    alphas = torch.cat([alpha_bar[:1], alpha_bar[1:] / alpha_bar[:-1]])
    return 1 - alphas


class VPSchedule(nn.Module):
    """ᾱ_t and σ_t tables of a discrete VP process, with σ ↔ t conversion by log-σ interpolation."""

    def __init__(
        self,
        beta: str = "scaled_linear",
        num_steps: int = 1000,
        beta_start: float = 0.00085,
        beta_end: float = 0.012,
        zero_terminal_snr: bool = False,
    ):
        super().__init__()
        betas = beta_schedule(beta, num_steps, beta_start, beta_end)
        if zero_terminal_snr:
            betas = rescale_zero_terminal_snr(betas)
        alpha_bar = (1 - betas).cumprod(0)
        self.register_buffer("alphas_cumprod", alpha_bar.float(), persistent=False)
        sigmas = ((1 - alpha_bar) / alpha_bar.clamp(min=ZERO_SNR_ALPHA_BAR)) ** 0.5
        self.register_buffer("sigmas", sigmas.float(), persistent=False)
        self.register_buffer("log_sigmas", sigmas.log().float(), persistent=False)

    @property
    def num_steps(self) -> int:
        return len(self.sigmas)

    def sigma_to_t(self, sigma: torch.Tensor) -> torch.Tensor:
        """Fractional timestep for σ, linear in log σ between table entries (k-diffusion, diffusers)."""
        log_sigma = sigma.float().log()
        dists = log_sigma[:, None] - self.log_sigmas[None]
        low = dists.ge(0).cumsum(1).argmax(1).clamp(max=self.num_steps - 2)
        high = low + 1
        lo, hi = self.log_sigmas[low], self.log_sigmas[high]
        w = ((lo - log_sigma) / (lo - hi)).clamp(0, 1)
        return (1 - w) * low + w * high

    def t_to_sigma(self, t: torch.Tensor) -> torch.Tensor:
        """σ at (fractional) timestep t, linear in log σ."""
        t = t.float()
        low = t.floor().long().clamp(0, self.num_steps - 1)
        high = t.ceil().long().clamp(0, self.num_steps - 1)
        w = t - low
        return ((1 - w) * self.log_sigmas[low] + w * self.log_sigmas[high]).exp()


class VPPrecond(Precond):
    """A discrete-time VP model as a denoiser: backbone ``F(x_t, t, **cond)`` predicts ε, v or x0.

    ==========  ==================  ====================  =====================
    prediction  c_skip              c_out                 c_in
    ==========  ==================  ====================  =====================
    eps         1                   -σ                    1/sqrt(1+σ²)
    v           1/(1+σ²)            -σ/sqrt(1+σ²)         1/sqrt(1+σ²)
    x0          0                   1                     1/sqrt(1+σ²)
    ==========  ==================  ====================  =====================
    """

    PREDICTIONS = ("eps", "v", "x0")

    def __init__(self, backbone: nn.Module, schedule: VPSchedule | None = None, prediction: str = "eps"):
        super().__init__(backbone)
        if prediction not in self.PREDICTIONS:
            raise ValueError(f"prediction must be one of {self.PREDICTIONS}, got {prediction!r}")
        self.schedule = schedule if schedule is not None else VPSchedule()
        self.prediction = prediction

    @property
    def sigma_min(self) -> float:
        return float(self.schedule.sigmas[0])

    @property
    def sigma_max(self) -> float:
        return float(self.schedule.sigmas[-1])

    def scalings(self, sigma, x):
        c_in = 1 / (sigma**2 + 1).sqrt()
        c_noise = self.schedule.sigma_to_t(sigma)
        if self.prediction == "eps":
            return torch.ones_like(sigma), -sigma, c_in, c_noise
        if self.prediction == "v":
            return 1 / (sigma**2 + 1), -sigma * c_in, c_in, c_noise
        return torch.zeros_like(sigma), torch.ones_like(sigma), c_in, c_noise

    def sample_training_sigma(self, n: int, generators: Sequence[torch.Generator] | None = None) -> torch.Tensor:
        """σ at a timestep drawn uniformly from {0, ..., N-1}, shape ``(n,)``."""
        t = (per_sample_uniform(n, generators) * self.schedule.num_steps).long().clamp(max=self.schedule.num_steps - 1)
        return self.schedule.sigmas.cpu()[t]


def vp_timesteps(num_inference_steps: int, num_train_steps: int = 1000, spacing: str = "leading", steps_offset: int = 0) -> torch.Tensor:
    """Discrete timesteps, descending, as diffusers' DDIM ``timestep_spacing`` (``leading``,
    ``trailing``, ``linspace``; Lin et al. 2024 Table 2)."""
    n, N = num_inference_steps, num_train_steps
    if n > N:
        raise ValueError(f"num_inference_steps={n} exceeds the {N} training steps")
    if spacing == "leading":
        t = torch.arange(n) * (N // n) + steps_offset
    elif spacing == "trailing":
        t = torch.arange(N, 0, -N / n).round().long().flip(0) - 1
    elif spacing == "linspace":
        t = torch.linspace(0, N - 1, n, dtype=torch.float64).round().long()
    else:
        raise ValueError(f"unknown timestep spacing {spacing!r}; choose leading, trailing or linspace")
    return t.flip(0)


def vp_sigmas(schedule: VPSchedule, num_inference_steps: int, spacing: str = "leading", steps_offset: int = 0, final: str = "zero") -> torch.Tensor:
    """Uniform-timestep σ schedule ``(n + 1,)`` for a VP model: σ at :func:`vp_timesteps`, then
    the final level — ``"zero"`` (σ = 0: ᾱ = 1, DDIM ``set_alpha_to_one``) or ``"first"``
    (σ_0, the first training level, as Stable Diffusion's DDIM config)."""
    t = vp_timesteps(num_inference_steps, schedule.num_steps, spacing, steps_offset)
    last = torch.zeros(1) if final == "zero" else schedule.sigmas[:1].cpu()
    return torch.cat([schedule.sigmas.cpu()[t], last])
