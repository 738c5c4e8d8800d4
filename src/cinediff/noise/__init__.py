"""Video noise priors (PYoCo): i.i.d., mixed and progressive."""

from cinediff.noise.priors import DEFAULT_ALPHA, NoisePrior, noise_prior, noise_sampler

__all__ = ["DEFAULT_ALPHA", "NoisePrior", "noise_prior", "noise_sampler"]
