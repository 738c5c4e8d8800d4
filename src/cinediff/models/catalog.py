"""The models that ship inside the package (``cinediff models``)."""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

from safetensors import safe_open


def assets_dir() -> Path:
    return Path(str(resources.files("cinediff") / "assets"))


def parameter_count(weights: Path) -> int:
    """Numbers in a safetensors file, read from its header (no tensor is loaded)."""
    with safe_open(str(weights), framework="pt") as f:
        return sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())


def describe_asset(folder: Path) -> dict:
    """One row of ``cinediff models``: name, kind, method, shape, parameters, training steps, size."""
    config = json.loads((folder / "config.json").read_text())
    weights = folder / "model.safetensors"
    row = {"name": folder.name, "params_m": round(parameter_count(weights) / 1e6, 2),
           "size_mb": round(weights.stat().st_size / 2**20, 1)}
    if "model" in config:  # an exported text-to-video model
        model = config["model"]
        return row | {"kind": "text-to-video", "method": f"{model.get('formulation')} + {model.get('backbone')}"
                      f" ({model.get('target', 'video')}, noise {model.get('noise_prior', 'iid')})",
                      "shape": config.get("shape"), "steps": config.get("step")}
    if "class" in config:  # a saved autoencoder
        return row | {"kind": "autoencoder", "method": config["class"], "shape": None, "steps": config.get("step")}
    if "heads" in config:  # the judge's in-domain classifier
        return row | {"kind": "classifier", "method": "judge classifier (" + ", ".join(config["heads"]) + ")",
                      "shape": config.get("input"), "steps": config.get("step")}
    return row | {"kind": "unknown", "method": "", "shape": None, "steps": None}


def shipped_models() -> list[dict]:
    """Every folder under ``cinediff/assets`` (text-to-video models, autoencoders, the classifier)."""
    folders = sorted(p for p in assets_dir().iterdir() if (p / "config.json").is_file())
    return [describe_asset(p) for p in folders]
