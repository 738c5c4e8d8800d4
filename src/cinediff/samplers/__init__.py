"""Stateless samplers, σ schedules and denoiser transforms."""

from cinediff.samplers.guidance import ClassifierFreeGuidance
from cinediff.samplers.sample import sample
from cinediff.samplers.sampling import (
    SAMPLERS,
    ancestral_step,
    sample_ddim,
    sample_dpmpp_2m,
    sample_euler,
    sample_heun,
    to_d,
)
from cinediff.samplers.schedules import (
    karras_sigmas,
    make_sigmas,
    sdedit_sigmas,
    vp_sigmas,
    vp_timesteps,
)
from cinediff.samplers.self_conditioning import SelfConditioning, self_conditioned

__all__ = [
    "SAMPLERS", "ClassifierFreeGuidance", "SelfConditioning", "ancestral_step", "karras_sigmas", "make_sigmas", "sample",
    "sample_ddim", "sample_dpmpp_2m", "sample_euler", "sample_heun", "sdedit_sigmas", "self_conditioned", "to_d", "vp_sigmas",
    "vp_timesteps",
]
