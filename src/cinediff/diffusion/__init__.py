"""Diffusion formulations as preconditioning wrappers around any backbone ``F(x, c_noise, **cond)``."""

from cinediff.diffusion.edm import EDMPrecond, snap_sigma_in
from cinediff.diffusion.precond import Precond, append_dims
from cinediff.diffusion.vp import VPPrecond, VPSchedule, beta_schedule, rescale_zero_terminal_snr

__all__ = [
    "EDMPrecond", "Precond", "VPPrecond", "VPSchedule", "append_dims", "beta_schedule",
    "rescale_zero_terminal_snr", "snap_sigma_in",
]
