"""Training runs inside a bench suite: one run folder per arm, resumable, never silently mixed."""

from __future__ import annotations

import json
from pathlib import Path


def arm_config(recipe: str, out_dir: Path, overrides: list[str]):
    from cinediff.training.config import load_config

    return load_config(recipe, [*overrides, f"train.out_dir={json.dumps(str(out_dir))}"])


def check_resumable(config) -> None:
    """A run folder that already holds checkpoints must have been trained with this model and
    data (else resuming would mix two experiments)."""
    from cinediff.training.checkpoint import latest_checkpoint, load_checkpoint
    from cinediff.training.config import config_to_dict

    latest = latest_checkpoint(Path(config.train.out_dir) / "checkpoints")
    if latest is None:
        return
    saved = load_checkpoint(latest)["state"]["config"]
    wanted = config_to_dict(config)
    for section in ("model", "data"):
        if saved[section] != json.loads(json.dumps(wanted[section])):
            raise ValueError(f"{config.train.out_dir} was trained with another [{section}] config; "
                             "delete it or pass another out_dir")
