"""The denoiser contract and the preconditioning wrapper every formulation shares.

Every model in cinediff is used through one interface (STYLE.md §1):

    denoiser(x, sigma, **cond) -> x0_hat

with ``x = x0 + sigma * noise`` in "variance exploding" coordinates (k-diffusion, EDM).
A formulation (VP ε/v/x0, EDM, EDM with Snap Video's σ_in) is a set of scalings around a
backbone ``F(c_in * x, c_noise, **cond)``:

    D(x; σ) = c_skip(σ) x + c_out(σ) F(c_in(σ) x; c_noise(σ))        (EDM eq. 7)

and its training loss is the matching regression ``|F - (x0 - c_skip x) / c_out|²``, which
equals the formulation's weighted denoising loss (EDM λ(σ) c_out(σ)² = 1; ε-prediction
gives ``|F - ε|²``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cinediff.noise import NoisePrior


def append_dims(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """Append trailing singleton dims so a per-sample ``(B,)`` tensor broadcasts over ``ndim`` dims."""
    return x.reshape(*x.shape, *([1] * (ndim - x.ndim)))


def as_sigma_batch(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """σ as an fp32 ``(B,)`` tensor on x's device (a scalar is broadcast over the batch)."""
    sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)
    return sigma.expand(x.shape[0]) if sigma.ndim == 0 else sigma


class Precond(nn.Module):
    """Base class: wraps a backbone ``F(x, c_noise, **cond)`` into a denoiser ``D(x, sigma, **cond)``.

    Subclasses define ``scalings(sigma, x) -> (c_skip, c_out, c_in, c_noise)`` (each ``(B,)``),
    ``sample_training_sigma(n, generators)``, and the default sampling range
    ``sigma_min``/``sigma_max``. Preconditioning runs in fp32 whatever autocast says
    (STYLE.md §11); only the backbone call is left to autocast.
    """

    sigma_min: float
    sigma_max: float

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def scalings(self, sigma: torch.Tensor, x: torch.Tensor):
        raise NotImplementedError

    def sample_training_sigma(self, n: int, generators: Sequence[torch.Generator] | None = None) -> torch.Tensor:
        raise NotImplementedError

    # Data scaling (identity here; Snap Video's σ_in overrides these).
    def from_data(self, x0: torch.Tensor) -> torch.Tensor:
        """Data ``x0`` (values in [-1, 1]) → the space the diffusion runs in."""
        return x0

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        """Sampler output → data scale (inverse of ``from_data``)."""
        return x

    def backbone_output(self, x: torch.Tensor, sigma: torch.Tensor, network=None, **cond):
        """``F(c_in x, c_noise)``, plus the scalings used (for the loss); ``network``: the backbone
        (default) or another entry point of it, e.g. FIT's ``denoise`` (output, latents)."""
        c_skip, c_out, c_in, c_noise = self.scalings(sigma, x)
        out = (network or self.backbone)(x * append_dims(c_in, x.ndim), c_noise, **cond)
        return (out.float() if network is None else out), c_skip, c_out

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float, **cond) -> torch.Tensor:
        """The denoiser: x0 estimate from ``x = x0 + sigma * noise``. x: (B, C, [T,] H, W); sigma: (B,) or scalar."""
        x = x.float()
        out, c_skip, c_out = self.backbone_output(x, as_sigma_batch(sigma, x), **cond)
        return append_dims(c_skip, x.ndim) * x + append_dims(c_out, x.ndim) * out

    def forward_with_latents(self, x: torch.Tensor, sigma: torch.Tensor | float, prev_latents=None,
                             **cond) -> tuple[torch.Tensor, torch.Tensor]:
        """The denoiser of a self-conditioning backbone (FIT: ``backbone.denoise``): the x0 estimate
        given the ``prev_latents`` of another call (``None``: zeros), and this call's final latents."""
        x = x.float()
        (out, latents), c_skip, c_out = self.backbone_output(x, as_sigma_batch(sigma, x), self.backbone.denoise,
                                                             prev_latents=prev_latents, **cond)
        return append_dims(c_skip, x.ndim) * x + append_dims(c_out, x.ndim) * out.float(), latents

    def loss(self, x0: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor, temporal_weight: float = 0.0,
             **cond) -> torch.Tensor:
        """Per-sample denoising loss ``(B,)`` for data x0 (data scale), noise levels sigma ``(B,)`` and noise.

        ``temporal_weight`` λ adds λ · mean((e_{t+1} − e_t)²) over the frames of a video's error e: a
        positive-definite quadratic form of the error like the plain MSE, so it has the same minimiser
        (the posterior mean), but a wrong frame-to-frame change (a static object that should move,
        flicker) costs more, which is where the plain loss spends little gradient."""
        z0 = self.from_data(x0.float())
        x = z0 + append_dims(sigma, z0.ndim) * noise
        out, c_skip, c_out = self.backbone_output(x, sigma, **cond)
        target = (z0 - append_dims(c_skip, x.ndim) * x) / append_dims(c_out, x.ndim)
        error = out - target
        loss = error.pow(2).flatten(1).mean(1)
        if temporal_weight and error.ndim == 5 and error.shape[2] > 1:
            loss = loss + temporal_weight * error.diff(dim=2).pow(2).flatten(1).mean(1)
        return loss

    def training_loss(
        self,
        x0: torch.Tensor,
        prior: NoisePrior,
        generators: Sequence[torch.Generator] | None = None,
        temporal_weight: float = 0.0,
        **cond,
    ) -> torch.Tensor:
        """Draw σ from the training distribution and noise from ``prior``; per-sample loss ``(B,)``
        (``temporal_weight``: see :meth:`loss`)."""
        sigma, noise = self.training_draws(x0, prior, generators)
        return self.loss(x0, sigma, noise, temporal_weight, **cond)

    def training_draws(self, x0: torch.Tensor, prior: NoisePrior,
                       generators: Sequence[torch.Generator] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The random draws of :meth:`training_loss`: σ ``(B,)`` and noise shaped like ``x0`` (noise first)."""
        noise = prior(x0.shape, generators, device=x0.device)
        return self.sample_training_sigma(x0.shape[0], generators).to(x0.device), noise


def per_sample_uniform(n: int, generators: Sequence[torch.Generator] | None) -> torch.Tensor:
    """``(n,)`` U[0, 1) draws, one from each sample's generator when given."""
    if generators is None:
        return torch.rand(n)
    return torch.stack([torch.rand((), generator=g) for g in generators])


def per_sample_normal(n: int, generators: Sequence[torch.Generator] | None) -> torch.Tensor:
    """``(n,)`` N(0, 1) draws, one from each sample's generator when given."""
    if generators is None:
        return torch.randn(n)
    return torch.stack([torch.randn((), generator=g) for g in generators])
