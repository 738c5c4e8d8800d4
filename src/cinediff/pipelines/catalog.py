"""What ships inside the package: models (``cinediff models``) and recipes (``cinediff recipes``)."""

from __future__ import annotations

import json
import math
import re
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


def recipe_summary(path: Path) -> str:
    """The first sentence of a recipe's leading comment block."""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(line for line in lines if line)
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return sentence if len(sentence) <= 110 else sentence[:107].rstrip() + "..."


def recipes() -> dict[str, str]:
    """Packaged recipe name → one-line description."""
    from cinediff.training.config import packaged_configs

    return {name: recipe_summary(path) for name, path in sorted(packaged_configs().items())}
