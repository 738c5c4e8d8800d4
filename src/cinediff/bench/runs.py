"""Training runs inside a bench suite: one run folder per arm, resumable, never silently mixed."""

from __future__ import annotations

import json
from pathlib import Path


def arm_config(recipe: str, out_dir: Path, overrides: list[str]):
    from cinediff.training.config import load_config

    return load_config(recipe, [*overrides, f"train.out_dir={json.dumps(str(out_dir))}"])


def check_resumable(config) -> None:
    """A run folder that already holds checkpoints must have been trained with this model, data
    and seed (else resuming would mix two experiments); a study never overrides that."""
    from cinediff.training.checkpoint import latest_checkpoint, load_checkpoint
    from cinediff.training.config import config_differences

    latest = latest_checkpoint(Path(config.train.out_dir) / "checkpoints")
    if latest is None:
        return
    differences = config_differences(load_checkpoint(latest)["state"]["config"], config)
    if differences:
        raise ValueError(f"{config.train.out_dir} was trained with another config ({'; '.join(differences)}); "
                         "delete it or pass another out_dir")
