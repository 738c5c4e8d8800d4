"""From a training run to a folder others load: ``export_model`` (a text-to-video model, with its
model card), ``export_autoencoder``, ``export_diffusers_unet``; and reading autoencoder runs and
checkpoints directly (``load_any_autoencoder``, ``untrained_model`` for benchmarks)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from cinediff.autoencoders import Autoencoder, build_autoencoder, load_autoencoder, resolve_autoencoder_dir
from cinediff.models.generate import GenerationConfig, generation_problems
from cinediff.models.build import build_denoiser, build_text_encoder, load_target_latent
from cinediff.models.loading import DENOISER_PREFIX, LoadedModel, read_json_config, to_device, load_model
from cinediff.models.model_card import write_model_card
from cinediff.models.targets import make_target
from cinediff.text.encoders import is_default_encoder
from cinediff.training.checkpoint import load_checkpoint, resolve_checkpoint
from cinediff.training.config import RunConfig, apply_overrides, config_from_dict, config_to_dict
from cinediff.weights import CheckpointError, atomic_write_json, save_tensors


def autoencoder_from_weights(weights: dict, run) -> Autoencoder:
    """The autoencoder of an autoencoder run (``run.model.task == "autoencoder"``) with ``weights``."""
    autoencoder = build_autoencoder(run.model.backbone, **run.model.backbone_args)
    autoencoder.load_state_dict({k.removeprefix("autoencoder."): v for k, v in weights.items()})
    return autoencoder.eval().requires_grad_(False)


def is_autoencoder(source: str | Path) -> bool:
    """True for a saved autoencoder folder (or a shipped one's name), an autoencoder run folder or one
    of its checkpoints."""
    path = resolve_autoencoder_dir(source)
    for config_file, key in ((path / "config.json", None), (path / "state.json", "config")):
        if config_file.is_file():
            config = read_json_config(config_file)
            config = config.get(key, {}) if key else config
            return "class" in config or config.get("model", {}).get("task") == "autoencoder"
    return False


def load_any_autoencoder(source: str | Path) -> Autoencoder:
    """A saved autoencoder folder (``save_pretrained``) or a shipped one's name, or an autoencoder
    run / checkpoint folder."""
    source = resolve_autoencoder_dir(source)
    config_file = source / "config.json"
    if config_file.is_file() and "class" in read_json_config(config_file):
        return load_autoencoder(source)
    ckpt = load_checkpoint(resolve_checkpoint(source))
    run = config_from_dict(ckpt["state"]["config"])
    if run.model.task != "autoencoder":
        raise ValueError(f"{source} is a {run.model.task} run, not an autoencoder")
    return autoencoder_from_weights(ckpt["ema"] if ckpt["ema"] is not None else ckpt["model"], run)


@torch.no_grad()
def export_autoencoder(weights: dict, run, out_dir: Path, scaling_clips: int = 64) -> Path:
    """An autoencoder run's weights as a ``save_pretrained`` folder (what ``model.autoencoder`` takes),
    its latent scaling factor estimated on ``scaling_clips`` clips of the run's training data."""
    from cinediff.autoencoders import estimate_scaling_factor
    from cinediff.data import build_dataset

    autoencoder = autoencoder_from_weights(weights, run)
    data = build_dataset(run.data.dataset, **run.data.args)
    count = min(scaling_clips, len(data))
    clips = [torch.stack([data[i]["video"] for i in range(start, min(start + 8, count))]) for start in range(0, count, 8)]
    autoencoder.scaling_factor = estimate_scaling_factor(autoencoder, clips)
    return autoencoder.save_pretrained(out_dir)


def output_shape(run: RunConfig, autoencoder: Autoencoder | None = None,
                 latent_autoencoder: Autoencoder | None = None) -> tuple[list[int], float]:
    """What a run's denoiser makes — a clip, a latent, a content frame (or its latent) or a motion
    latent, ``[C, ...]`` — and the frame rate of its clips, from the first clip of its data set."""
    from cinediff.data import build_dataset

    item = build_dataset(run.data.dataset, **run.data.args)[0]
    x0, _ = make_target(run.model.target, item["video"][None], autoencoder, latent_autoencoder,
                        **run.model.target_args)
    return list(x0.shape[1:]), float(item.get("fps", 8.0))


def untrained_model(run: RunConfig, device: torch.device | str = "cpu", text_encoder=None) -> LoadedModel:
    """A randomly initialised model of a run config, as ``load_model`` would return its export: for
    speed and memory benchmarks, which do not depend on the weights. ``text_encoder``: one to share
    (default: the config's own)."""
    autoencoder = load_autoencoder(run.model.autoencoder) if run.model.autoencoder else None
    latent = load_target_latent(run.model.target_args)
    shape, fps = output_shape(run, autoencoder, latent)
    denoiser = build_denoiser(run.model).to(device).eval().requires_grad_(False)
    text_encoder = build_text_encoder(run.model.text_encoder, run.model.text_phrases, shared=text_encoder)
    if text_encoder is not None:
        text_encoder.to(device)
    config = {"model": config_to_dict(run)["model"], "shape": shape, "fps": fps, "generation": {}}
    return LoadedModel(denoiser, text_encoder, tuple(shape), fps, config, *to_device(device, autoencoder, latent))


def parse_generation(items: list[str]) -> dict:
    """``["sampler=dpmpp_2m", "layers=true"]`` → generation defaults of an exported model (TOML values),
    each a field of ``GenerationConfig`` that passes :func:`generation_problems`."""
    defaults = {f.name: f.default for f in dataclasses.fields(GenerationConfig) if f.name != "fps"}  # fps: the model's
    for item in items:
        if "=" not in item:
            raise ValueError(f"expects key=value, got {item!r}")
    out = apply_overrides({}, items)
    for key, value in out.items():
        if key not in defaults:
            raise ValueError(f"unknown generation setting {key!r}; one of {sorted(defaults)}")
        kind = type(defaults[key])
        if defaults[key] is not None and not (isinstance(value, kind) or kind is float and type(value) is int):
            raise ValueError(f"{key} must be a {kind.__name__}, got {value!r}")
    known = {k: out.get(k) for k in ("steps", "sampler", "noise_prior", "noise_alpha", "strength")}
    for field, problem in generation_problems(**known).items():
        raise ValueError(f"{field} {problem}")
    return out


def export_model(source: str | Path, out_dir: str | Path, generation: dict | None = None) -> Path:
    """Write a run's model (EMA weights when present) as an exported folder: a text-to-video
    denoiser for ``load_model`` / ``cinediff generate``, or an autoencoder for ``load_autoencoder``."""
    ckpt_path = resolve_checkpoint(source)
    ckpt = load_checkpoint(ckpt_path)
    run = config_from_dict(ckpt["state"]["config"])
    weights = ckpt["ema"] if ckpt["ema"] is not None else ckpt["model"]
    if run.model.task == "autoencoder":
        return export_autoencoder(weights, run, Path(out_dir))
    denoiser = {k[len(DENOISER_PREFIX):]: v.contiguous() for k, v in weights.items() if k.startswith(DENOISER_PREFIX)}
    if not denoiser:
        raise CheckpointError(f"{ckpt_path} holds no denoiser weights (is it an autoencoder run?)")
    model = dict(ckpt["state"]["config"]["model"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    autoencoder = None
    if model.get("autoencoder"):  # a latent model (or a CMD stage) ships its autoencoder beside it
        autoencoder = load_autoencoder(model["autoencoder"])
        autoencoder.save_pretrained(out_dir / "autoencoder")
        model["autoencoder"] = "autoencoder"
    if model.get("text_encoder") and not is_default_encoder(model["text_encoder"]):  # a folder (SD's CLIP): copied
        build_text_encoder(model["text_encoder"]).save_pretrained(out_dir / "text-encoder")
        model["text_encoder"] = "text-encoder"
    latent = load_target_latent(run.model.target_args)
    if latent is not None:  # a latent CMD content stage: its frame autoencoder travels with it
        latent.save_pretrained(out_dir / "latent-autoencoder")
        model["target_args"] = {**model["target_args"], "latent": "latent-autoencoder"}
    shape, fps = output_shape(run, autoencoder, latent)
    config = {"model": model, "shape": shape, "fps": fps, "data": ckpt["state"]["config"]["data"],
              "step": ckpt["state"]["step"], "generation": generation or {}}
    save_tensors(out_dir / "model.safetensors", denoiser)
    atomic_write_json(out_dir / "config.json", config)
    run_dir = ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else None
    write_model_card(out_dir, config, ckpt["state"], sum(v.numel() for v in denoiser.values()), run_dir)
    return out_dir


def export_diffusers_unet(source: str | Path, out_dir: str | Path) -> Path:
    """Write a U-Net run's (or exported model's) image model as a diffusers ``UNet2DConditionModel``
    folder (EMA weights; temporal layers left out), e.g. to use a Latent-Shift image stage in diffusers."""
    from cinediff.backbones.unet import UNet, save_diffusers

    source = Path(source)
    if (source / "config.json").is_file() and (source / "model.safetensors").is_file():
        loaded = load_model(source)
        backbone, size = loaded.denoiser.backbone, loaded.shape[-1]
    else:
        ckpt = load_checkpoint(resolve_checkpoint(source))
        run = config_from_dict(ckpt["state"]["config"])
        weights = ckpt["ema"] if ckpt["ema"] is not None else ckpt["model"]
        denoiser = build_denoiser(run.model)
        denoiser.load_state_dict({k[len(DENOISER_PREFIX):]: v for k, v in weights.items()
                                  if k.startswith(DENOISER_PREFIX)})
        backbone = denoiser.backbone
        size = run.data.args.get("width", 64) // (8 if run.model.autoencoder else 1)
    if not isinstance(backbone, UNet):
        raise ValueError(f"{source}: --format diffusers exports U-Net models; this one is a {type(backbone).__name__}")
    return save_diffusers(backbone, out_dir, sample_size=size)
