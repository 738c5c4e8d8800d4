"""Device choice, precision and determinism helpers shared by training and sampling."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def prepare_cpu_math(device: torch.device | str) -> None:
    """Flush denormal floats on CPU.

    Low noise levels produce denormals that slow CPU kernels ~20x; flushing them
    changes results only below ~1e-38.
    """
    if torch.device(device).type == "cpu":
        torch.set_flush_denormal(True)


def autocast(device: torch.device | str, enabled: bool = True):
    """bf16 autocast on CPU or CUDA (fp16 is unusably slow on CPU)."""
    device = torch.device(device)
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def sample_generators(seeds: int | Sequence[int], batch_size: int | None = None) -> list[torch.Generator]:
    """One CPU generator per sample, so a sample's randomness does not depend on the batch.

    ``seeds`` is a list of per-sample seeds, or one base seed expanded to
    ``base, base + 1, ...`` for ``batch_size`` samples.
    """
    if isinstance(seeds, int):
        if batch_size is None:
            raise ValueError("batch_size is required when a single base seed is given")
        seeds = [seeds + i for i in range(batch_size)]
    return [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]
