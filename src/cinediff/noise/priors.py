"""PYoCo video noise priors (Ge et al. 2023, "Preserve Your Own Correlation"), METHODS.md §1.

Every prior returns noise whose per-frame marginal is exactly N(0, I); they differ in the
correlation across time. Noise is drawn per sample from that sample's own CPU generator,
so a sample's noise never depends on the batch size or its position in the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class NoisePrior:
    """A video noise prior over tensors shaped ``(B, C, T, H, W)``.

    kind: ``"iid"``, ``"mixed"`` or ``"progressive"``.
    alpha: correlation strength; ``alpha = 0`` is i.i.d. for every kind.
    """

    kind: str = "iid"
    alpha: float = 0.0

    def __post_init__(self):
        if self.kind not in _PRIORS:
            raise ValueError(f"unknown noise prior {self.kind!r}; choose one of {sorted(_PRIORS)}")
        if self.alpha < 0 or not math.isfinite(self.alpha):
            raise ValueError(f"noise prior alpha must be finite and >= 0, got {self.alpha}")

    def frame_correlation(self, i: int, j: int) -> float:
        """Correlation between frames ``i`` and ``j`` of the same pixel and channel."""
        if i == j:
            return 1.0
        rho = self.alpha**2 / (1 + self.alpha**2)
        if self.kind == "mixed":
            return rho
        if self.kind == "progressive":
            return rho ** (abs(i - j) / 2)
        return 0.0

    def sample_one(self, shape: Sequence[int], generator: torch.Generator | None = None) -> torch.Tensor:
        """Noise for one sample, ``shape = (C, T, H, W)`` (or ``(C, H, W)`` for an image), fp32 on CPU."""
        shape = tuple(shape)
        independent = torch.randn(shape, generator=generator)  # drawn first: alpha=0 equals iid bit for bit
        if len(shape) != 4 or self.kind == "iid":
            return independent
        return _PRIORS[self.kind](independent, self.alpha, generator)

    def __call__(
        self,
        shape: Sequence[int],
        generators: Sequence[torch.Generator] | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Noise for a batch ``shape = (B, ...)``: sample b uses ``generators[b]``."""
        batch, *rest = shape
        if generators is not None and len(generators) != batch:
            raise ValueError(f"got {len(generators)} generators for a batch of {batch}")
        gens = generators if generators is not None else [None] * batch
        noise = torch.stack([self.sample_one(rest, g) for g in gens])
        return noise.to(device=device, dtype=dtype)


def _mixed(independent: torch.Tensor, alpha: float, generator) -> torch.Tensor:
    """eps_i = sqrt(a²/(1+a²)) eps_shared + sqrt(1/(1+a²)) eps_ind,i ; independent is (C, T, H, W)."""
    c, _, h, w = independent.shape
    shared = torch.randn((c, 1, h, w), generator=generator)
    return math.sqrt(alpha**2 / (1 + alpha**2)) * shared + math.sqrt(1 / (1 + alpha**2)) * independent


def _progressive(independent: torch.Tensor, alpha: float, generator) -> torch.Tensor:
    """eps_0 = eps_ind,0 ; eps_i = a/sqrt(1+a²) eps_{i-1} + 1/sqrt(1+a²) eps_ind,i (autoregressive in T)."""
    keep, fresh = alpha / math.sqrt(1 + alpha**2), 1 / math.sqrt(1 + alpha**2)
    frames = [independent[:, 0]]
    for t in range(1, independent.shape[1]):
        frames.append(keep * frames[-1] + fresh * independent[:, t])
    return torch.stack(frames, dim=1)


_PRIORS: dict[str, Callable | None] = {"iid": None, "mixed": _mixed, "progressive": _progressive}

# METHODS.md §1 *choice*: default alpha per prior (third-party reimplementations; the paper sweeps it).
DEFAULT_ALPHA = {"iid": 0.0, "mixed": 1.0, "progressive": 2.0}


def noise_prior(kind: str = "iid", alpha: float | None = None) -> NoisePrior:
    """Build a prior with the documented default alpha for its kind."""
    return NoisePrior(kind, DEFAULT_ALPHA.get(kind, 0.0) if alpha is None else alpha)


def noise_sampler(
    prior: NoisePrior, like: torch.Tensor, generators: Sequence[torch.Generator] | None = None
) -> Callable[[], torch.Tensor]:
    """A zero-argument function drawing fresh noise shaped like ``like`` (for stochastic samplers)."""
    return lambda: prior(like.shape, generators, device=like.device, dtype=like.dtype)
