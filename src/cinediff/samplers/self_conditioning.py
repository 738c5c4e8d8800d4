"""Latent self-conditioning at sampling time, as a denoiser transform (RIN §3.4; Snap Video's FIT).

A self-conditioned backbone is trained to read the final latents of another pass on the same
input. Sampling approximates that pass with the latest evaluation on the trajectory: each
network call gets the latents of the call before it, the first call zeros (RIN's choice; no
extra pass). Under Heun that chain is: step i's predictor at ``(x_i, σ_i)`` reads the previous
call's latents, the corrector at ``(x_i + h·d, σ_{i+1})`` reads the predictor's, step i+1's
predictor at ``(x_{i+1}, σ_{i+1})`` reads the corrector's — always the nearest point already
evaluated. The state lives in this object, made afresh for every sampling run, never in the
backbone; wrap it inside classifier-free guidance so that both branches (one batch of 2B)
carry their own latents.
"""

from __future__ import annotations

import torch

from cinediff.samplers.guidance import DenoiserTransform


class SelfConditioning(DenoiserTransform):
    """``denoiser(x, sigma, **cond)`` that feeds each call the previous call's final latents.

    ``denoiser`` must have ``forward_with_latents(x, sigma, prev_latents, **cond) -> (x0, latents)``
    (:class:`~cinediff.diffusion.precond.Precond` over a FIT backbone). ``latents`` holds the last
    call's ``(B, N, latent_dim)``.
    """

    def __init__(self, denoiser):
        super().__init__(denoiser)
        self.latents: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        x0, latents = self.denoiser.forward_with_latents(x, sigma, prev_latents=self.latents, **cond)
        self.latents = latents.detach()
        return x0


def self_conditioned(denoiser) -> bool:
    """True when ``denoiser``'s backbone was trained with latent self-conditioning."""
    return bool(getattr(getattr(denoiser, "backbone", None), "self_conditioned", False))
