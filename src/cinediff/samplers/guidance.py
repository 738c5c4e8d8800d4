"""Inference-time denoiser transforms (STYLE.md §4): each takes a denoiser and returns one."""

from __future__ import annotations

import torch


class DenoiserTransform:
    """Base of the transforms: wraps ``denoiser`` and passes its data scaling through
    (``from_data`` / ``to_data``, Snap Video's σ_in), so a sampler can use the wrapped one alike."""

    def __init__(self, denoiser):
        self.denoiser = denoiser

    def from_data(self, x0: torch.Tensor) -> torch.Tensor:
        return getattr(self.denoiser, "from_data", lambda x0: x0)(x0)

    def to_data(self, x: torch.Tensor) -> torch.Tensor:
        return self.denoiser.to_data(x)


class ClassifierFreeGuidance(DenoiserTransform):
    """``D = D_u + scale · (D_c - D_u)`` (Ho & Salimans 2022).

    ``uncond`` holds the conditioning of the unconditional branch: the empty prompt's
    embedding, or a negative prompt's. Both branches run in one batched forward: per-sample
    tensors of ``cond`` are concatenated with ``uncond``'s entry of the same key, or with
    themselves when ``uncond`` has none (e.g. fps); other entries are shared.
    ``scale = 1`` skips the unconditional branch.
    """

    def __init__(self, denoiser, scale: float, uncond: dict):
        super().__init__(denoiser)
        self.scale, self.uncond = scale, uncond

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, **cond) -> torch.Tensor:
        if self.scale == 1:
            return self.denoiser(x, sigma, **cond)
        both = {k: torch.cat([v, self.uncond.get(k, v)]) if _per_sample(v, x) else v for k, v in cond.items()}
        denoised_cond, denoised_uncond = self.denoiser(torch.cat([x, x]), torch.cat([sigma, sigma]), **both).chunk(2)
        return denoised_uncond + self.scale * (denoised_cond - denoised_uncond)


def _per_sample(value, x: torch.Tensor) -> bool:
    return torch.is_tensor(value) and value.ndim > 0 and value.shape[0] == x.shape[0]
