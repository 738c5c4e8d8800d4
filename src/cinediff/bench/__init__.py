"""Benchmarks: every efficiency claim as a ratio measured side by side in one run.

A suite is one function ``run(**options) -> dict`` returning ``{"rows": [...], "ratios": {...},
"notes": [...]}``; :func:`run_suite` adds the machine description and writes JSON. A new suite
plugs in by adding one entry to ``SUITES``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import platform
from pathlib import Path

import torch

SUITES = {
    "backbones": "cinediff.bench.backbones",
    "cmd": "cinediff.bench.cmd",
    "diagnose": "cinediff.bench.diagnose",
    "generate": "cinediff.bench.generate",
    "methods": "cinediff.bench.methods",
    "train": "cinediff.bench.train",
    "noise": "cinediff.bench.noise",
    "pyoco": "cinediff.bench.pyoco",
    "recipes": "cinediff.bench.recipes",
    "show1": "cinediff.bench.show1",
}


def machine() -> dict:
    """What the figures were measured on."""
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "threads": torch.get_num_threads(), "device": "cpu"}
    if torch.cuda.is_available():
        info |= {"device": "cuda", "gpu": torch.cuda.get_device_name(0)}
    return info


def run_suite(name: str, json_path: str | Path | None = None, **options) -> dict:
    if name not in SUITES:
        raise ValueError(f"unknown bench suite {name!r}; choose one of {sorted(SUITES)}")
    suite = importlib.import_module(SUITES[name]).run
    accepted = inspect.signature(suite).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(f"bench {name} has no option {', '.join(unknown)}; it takes {', '.join(accepted)}")
    result = suite(**options)
    result = {"suite": name, "machine": machine(), "options": options, **result}
    if json_path is not None:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(result, indent=1))
    return result
