"""Start a run from a diffusers text-to-image folder (Stable Diffusion layout: ``unet/``, ``vae/``,
``text_encoder/``, ``tokenizer/``, ``scheduler/``), given as ``model.init_from``.

:func:`resolve_diffusers_init` fills the model config from the folder: the U-Net's architecture
(the recipe's ``backbone_args`` add the video parts, e.g. ``temporal = "shift"``), its VAE as the
autoencoder, its CLIP text encoder, and the VP schedule and prediction of its scheduler; the
trainer then starts from the U-Net's weights (:func:`diffusers_unet_weights`), new temporal
layers keeping their (zero / parameter-free) initialisation. Nothing is downloaded: every part is
read from the folder.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

PREDICTIONS = {"epsilon": "eps", "v_prediction": "v", "sample": "x0"}
BACKBONE_PREFIX = "denoiser.backbone."  # where the U-Net's weights sit in a DiffusionTask's state dict


def is_diffusers_pipeline(path: str | Path | None) -> bool:
    """A diffusers text-to-image folder: a ``unet/`` with a diffusers config (and usually ``model_index.json``)."""
    if not path:
        return False
    unet_config = Path(path) / "unet" / "config.json"
    return unet_config.is_file() and "_class_name" in json.loads(unet_config.read_text())


def unet_args(folder: Path) -> dict:
    """The folder's U-Net as ``UNetConfig`` fields (JSON-style: lists, not tuples)."""
    from cinediff.backbones.unet import config_from_diffusers

    fields = dataclasses.asdict(config_from_diffusers(json.loads((folder / "unet" / "config.json").read_text())))
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


def schedule_args(folder: Path) -> dict:
    """``VPSchedule`` fields and the prediction of the folder's scheduler config."""
    path = folder / "scheduler" / "scheduler_config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{folder} has no scheduler/scheduler_config.json: not a diffusers text-to-image folder")
    cfg = json.loads(path.read_text())
    prediction = cfg.get("prediction_type", "epsilon")
    if prediction not in PREDICTIONS:
        raise ValueError(f"{path}: prediction_type {prediction!r} is not supported (one of {sorted(PREDICTIONS)})")
    return {"prediction": PREDICTIONS[prediction], "beta": cfg.get("beta_schedule", "scaled_linear"),
            "beta_start": cfg.get("beta_start", 0.00085), "beta_end": cfg.get("beta_end", 0.012),
            "num_steps": cfg.get("num_train_timesteps", 1000),
            "zero_terminal_snr": bool(cfg.get("rescale_betas_zero_snr", False))}


def resolve_diffusers_init(config):
    """``config`` (a RunConfig) with its model filled from ``model.init_from`` when that is a diffusers
    text-to-image folder; unchanged otherwise. The recipe's ``backbone_args`` override the U-Net's
    (they add the video parts); architecture and schedule come from the folder."""
    model = config.model
    if model.task != "diffusion" or not is_diffusers_pipeline(model.init_from):
        return config
    folder = Path(model.init_from).resolve()
    for part in ("vae", "text_encoder", "tokenizer"):
        if not (folder / part).is_dir():
            raise FileNotFoundError(f"{folder} has no {part}/ folder: a text-to-image folder needs unet/, vae/, "
                                    "text_encoder/, tokenizer/ and scheduler/")
    resolved = dataclasses.replace(
        model, backbone="unet", backbone_args={**unet_args(folder), **model.backbone_args}, formulation="vp",
        formulation_args=schedule_args(folder), autoencoder=str(folder / "vae"), text_encoder=str(folder),
        init_from=str(folder))
    return dataclasses.replace(config, model=resolved)


def diffusers_unet_weights(folder: str | Path) -> dict:
    """The folder's U-Net weights, keyed like a DiffusionTask's state dict."""
    from cinediff.weights import load_tensors

    weights = load_tensors(Path(folder) / "unet" / "diffusion_pytorch_model.safetensors")
    return {BACKBONE_PREFIX + k: v for k, v in weights.items()}
