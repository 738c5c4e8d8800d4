"""Device choice, precision and determinism helpers shared by training and sampling."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch


def default_device() -> torch.device:
    """CUDA when available, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse instead of returning it to the OS.

    By default every large tensor is a fresh ``mmap`` whose pages fault in on first touch
    and are unmapped when freed; a training step on CPU then spends most of its time in the
    kernel (measured here: 10x slower steps, 50% system time). Equivalent to
    ``MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483647``. Returns False off glibc.
    """
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30) and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))  # C int
    except (OSError, AttributeError):
        return False


def prepare_cpu_math(device: torch.device | str) -> None:
    """CPU set-up for training and sampling: flush denormal floats and keep freed memory.

    Low noise levels produce denormals that slow CPU kernels ~20x; flushing them changes
    results only below ~1e-38. See :func:`keep_freed_memory` for the allocator.
    """
    if torch.device(device).type == "cpu":
        torch.set_flush_denormal(True)
        keep_freed_memory()


def bf16_is_fast(device: torch.device | str) -> bool:
    """Whether bf16 matmuls run natively: CUDA with bf16 support, or a CPU with AVX512-BF16/AMX.

    Elsewhere (e.g. AVX2-only CPUs) bf16 is emulated and slower than fp32.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(precision: str, device: torch.device | str) -> bool:
    """Resolve a precision setting: ``bf16``, ``fp32`` or ``auto`` (bf16 where it is fast)."""
    if precision not in ("bf16", "fp32", "auto"):
        raise ValueError(f"precision must be bf16, fp32 or auto, got {precision!r}")
    return precision == "bf16" or (precision == "auto" and bf16_is_fast(device))


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
    return [torch.Generator("cpu").manual_seed(check_seed(s)) for s in seeds]


def derive_seeds(seeds: Sequence[int], *keys: int) -> list[int]:
    """Per-sample seeds of a sub-step (stage, window, layer) of each sample: a function of ``(seed, *keys)`` only."""
    return [int(np.random.SeedSequence([int(seed), *keys]).generate_state(1)[0]) for seed in seeds]


MAX_SEED = 2**64 - 1  # torch generators take 64-bit seeds


def check_seed(seed) -> int:
    """``seed`` as an int in [0, 2**64 - 1], else a ValueError naming that range."""
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):  # ints and numpy integers, not floats
        raise ValueError(f"a seed must be an integer in [0, 2**64 - 1], got {seed!r}")
    seed = seed.__index__()
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed {seed} is out of range: seeds are integers in [0, 2**64 - 1 = {MAX_SEED}]")
    return seed


def check_device(device: str | torch.device) -> torch.device:
    """``device`` as a torch.device that this torch build can use, else one clear ValueError."""
    try:
        device = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"unknown device {str(device)!r}: {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        build = "a CPU-only torch build" if torch.version.cuda is None else "no visible CUDA device"
        raise ValueError(f"--device {device} asked for CUDA, but this is {build}; use --device cpu")
    return device
