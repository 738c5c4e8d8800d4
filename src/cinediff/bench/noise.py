"""Cost of the PYoCo noise priors relative to i.i.d. noise (they are used at every step)."""

from __future__ import annotations

import torch

from cinediff.bench.timing import time_call
from cinediff.noise import noise_prior
from cinediff.runtime import sample_generators


def run(quick: bool = False, batch: int = 8, frames: int = 16, size: int = 64, channels: int = 4, repeats: int = 5) -> dict:
    if quick:
        batch, frames, size = 2, 4, 16
    shape = (batch, channels, frames, size, size)
    rows = []
    for kind in ("iid", "mixed", "progressive"):
        prior = noise_prior(kind)
        seconds = time_call(lambda: prior(shape, sample_generators(0, batch)), torch.device("cpu"), repeats=repeats)
        rows.append({"prior": kind, "alpha": prior.alpha, "ms_per_video": 1e3 * seconds / batch})
    iid = rows[0]["ms_per_video"]
    return {"rows": rows, "ratios": {f"{r['prior']}_vs_iid": r["ms_per_video"] / iid for r in rows[1:]},
            "input": {"shape": list(shape)}}
