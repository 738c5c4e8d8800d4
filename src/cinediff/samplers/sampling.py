"""Stateless samplers over the denoiser contract ``denoiser(x, sigma, **cond) -> x0`` (k-diffusion style).

Every sampler takes ``(denoiser, x, sigmas, extra_args, callback, disable, noise_sampler)``:
``x`` is the initial noise already scaled by ``sigmas[0]``; ``sigmas`` a decreasing ``(n + 1,)``
schedule; ``noise_sampler()`` returns fresh noise for stochastic steps, so every draw goes
through the chosen noise prior and per-sample generators. State stays in fp32.
"""

from __future__ import annotations

import functools
import math

import torch
from tqdm.auto import trange

from cinediff.diffusion.precond import append_dims
from cinediff.runtime import prepare_cpu_math

SAMPLERS: dict = {}


def sampler(fn):
    """Register a sampler; run it without autograd and with CPU denormals flushed."""

    @functools.wraps(fn)
    def wrapped(denoiser, x, sigmas, **kwargs):
        prepare_cpu_math(x.device)
        if kwargs.get("noise_sampler") is None:
            kwargs["noise_sampler"] = lambda: torch.randn_like(x, dtype=torch.float32)
        with torch.no_grad():
            return fn(denoiser, x.float(), sigmas.to(x.device, torch.float32), **kwargs)

    SAMPLERS[fn.__name__.removeprefix("sample_")] = wrapped
    return wrapped


def to_d(x, sigma, denoised):
    """Probability-flow ODE derivative dx/dσ = (x - D(x; σ)) / σ (EDM eq. 3)."""
    return (x - denoised) / append_dims(sigma, x.ndim)


def ancestral_step(sigma_from, sigma_to, eta=1.0):
    """Split a step σ_from → σ_to into a deterministic part to σ_down and fresh noise σ_up.

    With η this is exactly DDIM's σ_t(η) (Song et al. 2021, eq. 16) in VE coordinates.
    """
    if not eta:
        return sigma_to, sigma_to * 0
    sigma_up = torch.minimum(sigma_to, eta * (sigma_to**2 * (sigma_from**2 - sigma_to**2) / sigma_from**2) ** 0.5)
    return (sigma_to**2 - sigma_up**2) ** 0.5, sigma_up


def churn(x, sigma, steps, noise_sampler, S_churn=0.0, S_tmin=0.0, S_tmax=math.inf, S_noise=1.0):
    """EDM Algorithm 2 lines 4-6: raise the noise level to σ̂ = σ (1 + γ) by adding fresh noise."""
    gamma = min(S_churn / steps, 2**0.5 - 1) if S_tmin <= sigma <= S_tmax else 0.0
    sigma_hat = sigma * (gamma + 1)
    if gamma > 0:
        x = x + noise_sampler() * S_noise * (sigma_hat**2 - sigma**2) ** 0.5
    return x, sigma_hat


def _report(callback, i, x, sigma, sigma_hat, denoised):
    if callback is not None:
        callback({"x": x, "i": i, "sigma": sigma, "sigma_hat": sigma_hat, "denoised": denoised})


@sampler
def sample_euler(denoiser, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None, **churn_args):
    """Euler on the probability-flow ODE (EDM Algorithm 2 without the 2nd-order correction)."""
    extra_args, s_in = extra_args or {}, x.new_ones(x.shape[0])
    for i in trange(len(sigmas) - 1, disable=disable):
        x, sigma_hat = churn(x, sigmas[i], len(sigmas) - 1, noise_sampler, **churn_args)
        denoised = denoiser(x, sigma_hat * s_in, **extra_args)
        _report(callback, i, x, sigmas[i], sigma_hat, denoised)
        x = x + to_d(x, sigma_hat * s_in, denoised) * (sigmas[i + 1] - sigma_hat)
    return x


@sampler
def sample_heun(denoiser, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None, **churn_args):
    """Heun's 2nd-order method with optional churn (EDM Algorithm 2); Euler on the last step to σ = 0."""
    extra_args, s_in = extra_args or {}, x.new_ones(x.shape[0])
    for i in trange(len(sigmas) - 1, disable=disable):
        x, sigma_hat = churn(x, sigmas[i], len(sigmas) - 1, noise_sampler, **churn_args)
        denoised = denoiser(x, sigma_hat * s_in, **extra_args)
        _report(callback, i, x, sigmas[i], sigma_hat, denoised)
        d, dt = to_d(x, sigma_hat * s_in, denoised), sigmas[i + 1] - sigma_hat
        if sigmas[i + 1] == 0:
            x = x + d * dt
            continue
        x_next = x + d * dt
        d_next = to_d(x_next, sigmas[i + 1] * s_in, denoiser(x_next, sigmas[i + 1] * s_in, **extra_args))
        x = x + (d + d_next) / 2 * dt
    return x


@sampler
def sample_ddim(denoiser, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None, eta=0.0):
    """DDIM (Song et al. 2021) in VE coordinates: ``x = x0 + σ_down ε̂ + σ_up z``; η = 0 is deterministic."""
    extra_args, s_in = extra_args or {}, x.new_ones(x.shape[0])
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = denoiser(x, sigmas[i] * s_in, **extra_args)
        _report(callback, i, x, sigmas[i], sigmas[i], denoised)
        sigma_down, sigma_up = ancestral_step(sigmas[i], sigmas[i + 1], eta)
        x = denoised + to_d(x, sigmas[i] * s_in, denoised) * sigma_down
        if sigma_up > 0:
            x = x + noise_sampler() * sigma_up
    return x


@sampler
def sample_dpmpp_2m(denoiser, x, sigmas, extra_args=None, callback=None, disable=None, noise_sampler=None):
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2), multistep in λ = -log σ; 1st order on the first and last step."""
    extra_args, s_in = extra_args or {}, x.new_ones(x.shape[0])
    old_denoised = None
    for i in trange(len(sigmas) - 1, disable=disable):
        denoised = denoiser(x, sigmas[i] * s_in, **extra_args)
        _report(callback, i, x, sigmas[i], sigmas[i], denoised)
        h = sigmas[i].log() - sigmas[i + 1].log()  # λ_next - λ
        if old_denoised is not None and sigmas[i + 1] > 0:
            r = (sigmas[i - 1].log() - sigmas[i].log()) / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
        else:
            denoised_d = denoised
        x = (sigmas[i + 1] / sigmas[i]) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x
