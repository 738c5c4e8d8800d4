"""Timing and memory measurement shared by the suites."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue as queues
import resource
import statistics
import time
import traceback
from collections.abc import Callable

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device, warmup: int = 2, repeats: int = 5) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_memory_mb(fn: Callable[[], object], device: torch.device) -> float:
    """Memory one ``fn()`` call needs beyond what is allocated before it, in MiB: the CUDA
    allocator's peak, or on CPU the rise of the resident set size's high-water mark over the
    resident size before the call. On Linux the mark is reset before the call
    (:func:`reset_peak_rss`), so the figure is the call's own; elsewhere it is the process's
    lifetime peak, meaningful only in a fresh process whose earlier peak is lower."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        return (torch.cuda.max_memory_allocated(device) - before) / 2**20
    reset_peak_rss()
    before = _rss_mb()
    fn()
    return max(peak_total_mb(device) - before, 0.0)


def measure_once(fn: Callable[[], object], device: torch.device) -> dict:
    """One call of ``fn``: its result, wall ``seconds``, ``peak_memory_mb`` (see :func:`peak_memory_mb`)
    and the process's ``peak_total_mb`` after it. Meant for long calls (a whole generation) in a
    fresh process."""
    out = {}

    def timed():
        start = time.perf_counter()
        out["result"] = fn()
        synchronize(device)
        out["seconds"] = time.perf_counter() - start

    out["peak_memory_mb"] = peak_memory_mb(timed, device)
    out["peak_total_mb"] = peak_total_mb(device)
    return out


def peak_total_mb(device: torch.device) -> float:
    """The process's peak memory, in MiB: the CUDA allocator's peak, or on CPU the resident set
    size's high-water mark (Linux: ``VmHWM``, since the last :func:`reset_peak_rss`).

    Not ``getrusage``'s ``ru_maxrss`` where ``VmHWM`` exists: Linux keeps ``ru_maxrss`` across
    ``execve``, so a process spawned by a large parent starts with the parent's resident size as its
    peak (a sampling measurement spawned by a bench that had trained for an hour read ~6 GB for a
    call that needs 60 MB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    high_water = _status_mb("VmHWM")
    return high_water if high_water is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mb(field: str) -> float | None:
    """A ``kB`` field of ``/proc/self/status`` in MiB; None where there is no such file (not Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset this process's resident-set high-water mark (``VmHWM``) to its current size (Linux ≥
    4.0: ``echo 5 > /proc/self/clear_refs``); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def matmul_peak_flops(device: torch.device, dtype: torch.dtype = torch.float32, n: int = 2048) -> float:
    """Measured dense matmul throughput (FLOP/s), the denominator of model FLOPs utilisation."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    seconds = time_call(lambda: a @ b, device, warmup=2, repeats=5)
    return 2 * n**3 / seconds


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one call, counted by torch's FlopCounterMode (matmuls, convolutions, attention).

    Totals only: the per-module tracker is swapped out, because it fails on modules called under
    ``torch.no_grad`` with parameters as inputs (FIT's self-conditioning pass)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _TotalsOnly()
    with counter:
        fn()
    return counter.get_total_flops()


class _TotalsOnly(contextlib.nullcontext):
    """Stands in for FlopCounterMode's module tracker: every FLOP is attributed to "Global"."""

    parents = ("Global",)


def _call_and_put(results, fn, args) -> None:
    try:
        results.put(("ok", fn(*args)))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        results.put(("error", traceback.format_exc()))


def in_fresh_process(fn: Callable, *args):
    """``fn(*args)`` in a freshly spawned process, so that its peak memory is its own; returns its
    (picklable) result. ``fn`` must be importable (a module-level function). An exception or a
    crash of the child (e.g. killed for memory) is raised here as a RuntimeError."""
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    proc = ctx.Process(target=_call_and_put, args=(results, fn, args))
    proc.start()
    while True:
        try:
            status, value = results.get(timeout=1.0)
            break
        except queues.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"benchmark process for {fn.__name__} died with exit code {proc.exitcode}") from None
    proc.join()
    if status == "error":
        raise RuntimeError(f"benchmark process for {fn.__name__} failed:\n{value}")
    return value
