"""Exported models: a folder with ``model.safetensors`` (the denoiser's EMA weights) and
``config.json`` (how to rebuild it, the clip shape it makes, generation defaults).

The default model ships inside the package (``cinediff/assets/default``) so that
``cinediff generate`` works offline right after install.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch

from cinediff.autoencoders import Autoencoder, build_autoencoder, load_autoencoder, resolve_autoencoder_dir
from cinediff.pipelines.model_card import write_model_card
from cinediff.pipelines.text_to_video import GenerationConfig
from cinediff.training.checkpoint import load_checkpoint, resolve_checkpoint
from cinediff.weights import CheckpointError, atomic_write_json, load_tensors, save_tensors
from cinediff.training.config import ModelConfig, RunConfig, config_from_dict, config_to_dict
from cinediff.training.targets import make_target
from cinediff.training.tasks import build_denoiser, build_text_encoder, load_target_latent

DENOISER_PREFIX = "denoiser."


SHIPPED_MODELS = ("default",)  # text-to-video models inside the package (cinediff/assets/<name>)


def default_model_dir() -> Path:
    return Path(str(resources.files("cinediff") / "assets" / "default"))


def resolve_model_dir(name_or_dir: str | Path | None) -> Path:
    """The folder of a shipped model's name (None or ``"default"``), or ``name_or_dir`` itself; a folder
    that exists wins over a shipped name. A run folder (not exported) or a missing path: one clear error."""
    if name_or_dir is None:
        return default_model_dir()
    path = Path(name_or_dir)
    if path.exists():
        if (path / "checkpoints").is_dir() and not (path / "model.safetensors").is_file():
            raise CheckpointError(f"{path} is a training run folder, not an exported model: export it first: "
                                  f"cinediff export {path} -o DIR")
        return path
    if str(name_or_dir) in SHIPPED_MODELS:
        return Path(str(resources.files("cinediff") / "assets" / str(name_or_dir)))
    raise CheckpointError(f"{name_or_dir!r} is neither a shipped model ({', '.join(SHIPPED_MODELS)}) nor an "
                          "existing folder")


@dataclass
class LoadedModel:
    denoiser: torch.nn.Module  # the preconditioned denoiser D(x, sigma, **cond)
    text_encoder: object  # TextEncoder or None (unconditional model)
    shape: tuple[int, ...]  # what it makes: (C, T, H, W) clips/latents; CMD (C, H, W) content, (D, T, H′+W′) motion
    fps: float
    config: dict = field(default_factory=dict)  # everything in config.json
    autoencoder: object = None  # latent models: decodes samples to pixels; CMD stages: the CMD autoencoder
    latent_autoencoder: object = None  # a latent CMD content stage (target_args.latent): decodes its samples

    def generation_config(self, *overrides: dict) -> GenerationConfig:
        """Its generation defaults updated by each dict in turn (None values skipped): the model's
        frame rate, its training noise prior (PYoCo: the prior is used wherever noise enters,
        sampling included), then ``config.json``'s ``generation``. A dict that changes the prior
        without an α gets that prior's default α, not the previous prior's."""
        model = self.config.get("model", {})
        fields = {"noise_prior": model.get("noise_prior", "iid"), "noise_alpha": model.get("noise_alpha"),
                  **self.config.get("generation", {}), "fps": self.fps}
        for override in overrides:
            given = {k: v for k, v in override.items() if v is not None}
            if given.get("noise_prior", fields["noise_prior"]) != fields["noise_prior"]:
                fields["noise_alpha"] = None
            fields.update(given)
        return GenerationConfig(**fields)

    @property
    def decoder(self):
        """The autoencoder that turns this model's samples into pixels, or None: pixel models, and CMD
        stages (a content frame is an image — unless modelled in a latent space; a motion latent decodes
        only with its content frame)."""
        if self.config.get("model", {}).get("target", "video") == "video":
            return self.autoencoder
        return self.latent_autoencoder


def autoencoder_from_weights(weights: dict, run) -> Autoencoder:
    """The autoencoder of an autoencoder run (``run.model.task == "autoencoder"``) with ``weights``."""
    autoencoder = build_autoencoder(run.model.backbone, **run.model.backbone_args)
    autoencoder.load_state_dict({k.removeprefix("autoencoder."): v for k, v in weights.items()})
    return autoencoder.eval().requires_grad_(False)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is corrupt: {err}") from err


def is_autoencoder(source: str | Path) -> bool:
    """True for a saved autoencoder folder (or a shipped one's name), an autoencoder run folder or one
    of its checkpoints."""
    path = resolve_autoencoder_dir(source)
    for config_file, key in ((path / "config.json", None), (path / "state.json", "config")):
        if config_file.is_file():
            config = _read_json(config_file)
            config = config.get(key, {}) if key else config
            return "class" in config or config.get("model", {}).get("task") == "autoencoder"
    return False


def load_any_autoencoder(source: str | Path) -> Autoencoder:
    """A saved autoencoder folder (``save_pretrained``) or a shipped one's name, or an autoencoder
    run / checkpoint folder."""
    source = resolve_autoencoder_dir(source)
    config_file = source / "config.json"
    if config_file.is_file() and "class" in _read_json(config_file):
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
    text_encoder = text_encoder if text_encoder is not None else build_text_encoder(run.model.text_encoder)
    if text_encoder is not None:
        text_encoder.to(device)
    config = {"model": config_to_dict(run)["model"], "shape": shape, "fps": fps, "generation": {}}
    return LoadedModel(denoiser, text_encoder, tuple(shape), fps, config, *_to_device(device, autoencoder, latent))


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


def contained(root: Path, entry: str, what: str, allow_outside: bool = False) -> Path:
    """``root / entry`` for a path a folder's own JSON names, refused (:class:`CheckpointError`) when it
    leaves ``root`` (``..``, an absolute path, a symlink out): a downloaded folder must not make cinediff
    read anywhere else. ``allow_outside``: the caller vouches for the folder."""
    path = (root / entry).resolve()
    if not allow_outside and not path.is_relative_to(root.resolve()):
        raise CheckpointError(f"{root}: {what} {entry!r} points outside the folder; refusing to follow it "
                              "(copy it into the folder, or load with allow_outside=True if you trust it)")
    return path


def load_model(path: str | Path | None = None, device: torch.device | str = "cpu",
               allow_outside: bool = False) -> LoadedModel:
    """Rebuild an exported model (a folder, or a shipped name; default: the shipped ``default``) on ``device``. The
    autoencoders its config.json names must lie inside the folder unless ``allow_outside``."""
    path = resolve_model_dir(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{path} is not an exported cinediff model (no config.json)")
    config = _read_json(config_file)
    missing = [k for k in ("model", "shape", "fps") if k not in config] if isinstance(config, dict) else None
    if missing is None or missing or not isinstance(config["model"], dict):
        what = f"lacks {missing}" if missing else "is not a JSON object with a model table"
        raise CheckpointError(f"{config_file} {what}: not an exported cinediff model's config")
    try:
        model_config = ModelConfig(**{**config["model"], "autoencoder": None})
    except TypeError as err:
        raise CheckpointError(f"{config_file}: bad model table: {err}") from None
    denoiser = build_denoiser(model_config)
    try:
        denoiser.load_state_dict(load_tensors(path / "model.safetensors"))
    except RuntimeError as err:  # missing/unexpected keys or shapes: weights and config disagree
        raise CheckpointError(f"{path}: the weights do not match config.json: {str(err)[:500]}") from err
    denoiser.to(device).eval().requires_grad_(False)
    text_encoder = build_text_encoder(model_config.text_encoder)
    if text_encoder is not None:
        text_encoder.to(device)
    ae_entry, target_args = config["model"].get("autoencoder"), dict(config["model"].get("target_args", {}))
    autoencoder = load_autoencoder(contained(path, ae_entry, "model.autoencoder", allow_outside)) if ae_entry else None
    if target_args.get("latent"):
        target_args["latent"] = str(contained(path, target_args["latent"], "target_args.latent", allow_outside))
    latent = load_target_latent(target_args)
    return LoadedModel(denoiser, text_encoder, tuple(config["shape"]), float(config["fps"]), config,
                       *_to_device(device, autoencoder, latent))


def _to_device(device, *modules) -> list:
    """Each module moved to ``device`` (None stays None)."""
    return [m.to(device) if m is not None else None for m in modules]
