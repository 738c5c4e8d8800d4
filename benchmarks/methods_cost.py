"""Sampling cost of every ``bench methods`` model, measured again on its architecture.

Seconds, peak memory and FLOPs of one video do not depend on the weights, only on the
architecture, the output and the sampler's steps. This script trains each method's stages for one
optimizer step at the study's settings (scratch runs under ``--out``), exports them as the study
does and measures one video each in a fresh process (``measure_sampling``). It exists to correct
``benchmarks/methods-cpu.json``, whose CPU memory figures were read before ``peak_total_mb`` used
``VmHWM``: a process spawned by the study's large parent started with the parent's resident size
as its peak (see ``cinediff.bench.timing.peak_total_mb``); the study's runs are gone, their
architectures are not. ``methods_table.py --cost`` puts the figures into the tables and ratios.

    .venv/bin/python benchmarks/methods_cost.py --json benchmarks/methods-cost-cpu.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cinediff.bench import methods as bm
from cinediff.bench.timing import in_fresh_process


def sampling_cost(name: str, out: Path, frames: int, size: int, steps: int, device: str) -> dict:
    """One video of method ``name`` after one optimizer step per stage: seconds, MB, TFLOPs."""
    method = bm.methods(frames, size)[name]
    for stage in {s.run: s for s in method.stages}.values():
        bm.train_stage(stage, out, 0.0, 1)
    folder = bm.export_method(method, out)
    return in_fresh_process(bm.measure_sampling, str(folder), device, steps, True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--out", default="runs/methods-cost", type=Path, help="scratch runs (one step each)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=24, help="sampler steps, as the study's sample_steps")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("names", nargs="*", help="methods (default: all)")
    args = parser.parse_args()
    names = args.names or list(bm.methods(args.frames, args.size))
    costs = {}
    for name in names:
        costs[name] = sampling_cost(name, args.out, args.frames, args.size, args.steps, args.device)
        print(name, json.dumps(costs[name]), flush=True)
    args.json.write_text(json.dumps({"suite": "methods-cost", "input": vars(args) | {"json": str(args.json),
                                                                                      "out": str(args.out)},
                                     "costs": costs}, indent=1))


if __name__ == "__main__":
    main()
