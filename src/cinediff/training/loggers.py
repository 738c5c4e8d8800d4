"""Optional scalar loggers beside ``metrics.jsonl`` (which is always written): TensorBoard
(``train.tensorboard``) and Weights & Biases (``train.wandb = "offline" | "online"``).

Each logger takes ``log(prefix, record, step)`` — the numeric fields of a metrics record under
``prefix/`` (``train/loss``, ``eval/accuracy_motion``) — and ``close()``. A missing package is a
warning, not an error: the run goes on with ``metrics.jsonl`` alone. Offline W&B writes under
``<run>/wandb`` without touching the network; ``wandb sync`` uploads it later.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

log = logging.getLogger("cinediff.train")


def numeric(record: dict) -> dict[str, float]:
    return {k: float(v) for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


class TensorBoardLogger:
    def __init__(self, run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(run_dir / "tensorboard")

    def log(self, prefix: str, record: dict, step: int) -> None:
        for key, value in numeric(record).items():
            self.writer.add_scalar(f"{prefix}/{key}", value, step)

    def close(self) -> None:
        self.writer.close()


class WandbLogger:
    """One W&B run per run folder (a stable id from its path), resumed when training resumes."""

    def __init__(self, run_dir: Path, mode: str, config: dict):
        import wandb

        run_id = hashlib.sha1(str(run_dir.resolve()).encode()).hexdigest()[:16]
        self.run = wandb.init(project="cinediff", name=run_dir.name, id=run_id, resume="allow", mode=mode,
                              dir=str(run_dir), config=config)

    def log(self, prefix: str, record: dict, step: int) -> None:
        self.run.log({f"{prefix}/{k}": v for k, v in numeric(record).items()}, step=step)

    def close(self) -> None:
        self.run.finish()


def open_loggers(run_dir: Path, tensorboard: bool, wandb_mode: str, config: dict) -> list:
    """The loggers the train config asks for (those whose package is installed)."""
    loggers = []
    if tensorboard:
        try:
            loggers.append(TensorBoardLogger(run_dir))
        except ImportError:
            log.warning("train.tensorboard is on but the tensorboard package is not installed "
                        "(pip install tensorboard); skipping")
    if wandb_mode != "off":
        try:
            loggers.append(WandbLogger(run_dir, wandb_mode, config))
        except ImportError:
            log.warning("train.wandb is %r but the wandb package is not installed (pip install wandb); skipping",
                        wandb_mode)
    return loggers
