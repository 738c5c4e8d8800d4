"""The autoencoder interface every latent model in cinediff goes through (STYLE.md §12).

    latent = ae.encode(video)      # (B, C, T, H, W) in [-1, 1] -> scaled latent
    video  = ae.decode(latent)     # scaled latent -> (B, C, T, H, W)
    loss, logs = ae.training_loss(video, generator)   # what a generic trainer calls

Latent scaling lives in the wrapper: ``encode`` multiplies by ``scaling_factor`` (after
subtracting ``shift_factor`` where a model has one) and ``decode`` undoes it, so a diffusion
model only ever sees unit-scale latents. Each autoencoder states its compression:
``spatial_factor`` (H, W divided by it) and ``temporal_factor`` (T divided by it).

Checkpoints are a folder with ``config.json`` (the dataclass config, scaling factor included)
and ``model.safetensors``, both written atomically (temporary file + ``os.replace``).
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from cinediff.weights import atomic_write_json, load_tensors, save_tensors

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def check_divisible(height: int, width: int, factor: int, what: str = "spatial factor") -> None:
    """Raise a ValueError unless H and W are multiples of ``factor`` (no silent padding or cropping)."""
    if height % factor or width % factor:
        raise ValueError(f"height and width must be divisible by the {what} {factor}, got {height}x{width}")


class Autoencoder(nn.Module, ABC):
    """Abstract autoencoder: ``encode``, ``decode``, ``training_loss`` and checkpoint I/O.

    Subclasses set ``config_class`` (a dataclass with at least ``scaling_factor``) and keep their
    config in ``self.config``; ``from_pretrained`` rebuilds them as ``cls(config)``.
    ``encode`` may return one tensor or a tuple of tensors (CMD: content frame, motion latent);
    ``decode`` takes the same, unpacked.
    """

    config_class: type
    spatial_factor: int
    temporal_factor: int
    latent_channels: int

    @property
    def scaling_factor(self) -> float:
        """Latents are multiplied by this after encode and divided by it before decode."""
        return self.config.scaling_factor

    @scaling_factor.setter
    def scaling_factor(self, value: float) -> None:
        self.config.scaling_factor = float(value)  # lives in the config, so it is saved with the weights

    @abstractmethod
    def encode(self, video: torch.Tensor, **kwargs) -> Any:
        """(B, C, T, H, W) in [-1, 1] → scaled latent(s)."""

    @abstractmethod
    def decode(self, *latents: torch.Tensor) -> torch.Tensor:
        """Scaled latent(s) → (B, C, T, H, W)."""

    @abstractmethod
    def training_loss(
        self, video: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Scalar loss to minimise on a batch ``video`` (B, C, T, H, W), and detached 0-dim tensors to log."""

    def diffusion_latent(self, video: torch.Tensor) -> torch.Tensor:
        """The scaled latent that ``scaling_factor`` multiplies (what a latent diffusion model makes)."""
        return self.encode(video)

    def reconstruct(self, video: torch.Tensor) -> torch.Tensor:
        """``decode(encode(video))`` for either kind of latent."""
        latent = self.encode(video)
        return self.decode(*latent) if isinstance(latent, tuple) else self.decode(latent)

    # Checkpoints -----------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created), atomically."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_tensors(directory / WEIGHTS_NAME, self.state_dict())
        config = {"class": type(self).__name__, "config": asdict(self.config)}
        atomic_write_json(directory / CONFIG_NAME, config, indent=2)
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, map_location: str | torch.device = "cpu"):
        """Load a folder written by :meth:`save_pretrained`; clear errors for missing or corrupt files."""
        config = cls.config_class(**read_config(Path(directory), cls.config_class, cls.__name__))
        model = cls(config)
        model.load_state_dict(load_tensors(Path(directory) / WEIGHTS_NAME, map_location))
        return model


def read_config(directory: Path, config_class: type, class_name: str) -> dict:
    """The config dict of a checkpoint folder, JSON lists turned back into tuples."""
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no {CONFIG_NAME} in {directory}: not a saved {class_name} checkpoint")
    try:
        saved = json.loads(path.read_text())
        config = saved["config"]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"corrupt checkpoint config {path}: {e}") from e
    if saved.get("class") != class_name:
        raise ValueError(f"{path} holds a {saved.get('class')!r}, not a {class_name}")
    known = {f.name for f in fields(config_class)}
    if unknown := set(config) - known:
        raise ValueError(f"{path}: unknown config keys {sorted(unknown)} for {config_class.__name__}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
