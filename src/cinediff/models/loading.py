"""Exported models: a folder with ``model.safetensors`` (the denoiser's EMA weights) and
``config.json`` (how to rebuild it, the clip shape it makes, generation defaults), found by a
shipped name (``default``) or a path, loaded as a :class:`LoadedModel`.

The default model ships inside the package (``cinediff/assets/default``) so that
``cinediff generate`` works offline right after install. Writing such folders from training runs
is ``training.export``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import resources
from pathlib import Path

import torch

from cinediff.autoencoders import load_autoencoder
from cinediff.models.build import build_denoiser, build_text_encoder, load_target_latent
from cinediff.models.config import ModelConfig
from cinediff.models.generate import GenerationConfig
from cinediff.text.encoders import is_default_encoder
from cinediff.weights import CheckpointError, load_tensors


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

    @cached_property
    def color_names(self):
        """The reader of colour names this model never saw (:class:`~cinediff.text.colors.ColorNames`:
        "crimson" → "red"), for models trained on moving-shapes captions (their colour words and
        vocabulary are known); None for other data."""
        from cinediff.data.attributes import COLORS
        from cinediff.data.captions import vocabulary_words
        from cinediff.text.colors import ColorNames

        data = self.config.get("data") or {}
        if data.get("dataset") != "moving-shapes":
            return None
        return ColorNames(COLORS, vocabulary_words(data.get("args", {}).get("captions", "base")))

    @cached_property
    def clause_reader(self):
        """The reader of shape and motion wording this model never saw, through its own text encoder
        (:class:`~cinediff.text.grounding.ClauseReader`: "a red sphere heading to the left" → "a red
        circle moving left"), for models trained on moving-shapes captions; None for other data."""
        from cinediff.data.captions import reading_lexicon
        from cinediff.text.glosses import VERB_TABLE, read_table
        from cinediff.text.grounding import ClauseReader

        data = self.config.get("data") or {}
        if data.get("dataset") != "moving-shapes" or self.text_encoder is None:
            return None
        encoder = getattr(self.text_encoder, "encoder", self.text_encoder)  # a PhraseEncoder wraps one

        @torch.no_grad()
        def embed(texts: list[str]) -> torch.Tensor:
            return torch.nn.functional.normalize(encoder(texts).pooled.float().cpu(), dim=-1)

        lexicon = reading_lexicon(data.get("args", {}).get("captions", "base"))
        return ClauseReader(embed, **lexicon, glosses=read_table(), verb_glosses=read_table(VERB_TABLE))

    def read_prompts(self, prompts: list[str], config: GenerationConfig) -> list[str]:
        """The prompts as the model reads them: unseen colour names rewritten (:attr:`color_names`)
        unless ``config.color_names`` is off, then clauses in unseen wording (:attr:`clause_reader`)
        unless ``config.ground_words`` or ``color_names`` is off (it writes the colour words it finds, so
        colour names left unread would be dropped); unchanged for models without readers."""
        grounds = config.ground_words and config.color_names
        readers = [reader for reader, on in ((self.color_names, config.color_names), (self.clause_reader, grounds))
                   if on and reader is not None]
        out = list(prompts)
        for reader in readers:
            out = [reader(p) for p in out]
        return out

    def read_for_generation(self, prompts: list[str], config: GenerationConfig
                            ) -> tuple[list[str], GenerationConfig]:
        """The prompts as read (:meth:`read_prompts`) and a config that generates them without reading
        them again: for callers that also report the reading, so that each prompt is read once."""
        return self.read_prompts(prompts, config), replace(config, color_names=False, ground_words=False)

    def pixel_shape(self) -> tuple[int, int, int]:
        """(T, H, W) of the pixel clips this model makes (latent models: the decoded size)."""
        if self.decoder is None:
            return tuple(self.shape[1:])
        probe = self.decoder.decode(torch.zeros(1, *self.shape, device=next(self.denoiser.parameters()).device))
        return tuple(probe.shape[2:])

    @property
    def decoder(self):
        """The autoencoder that turns this model's samples into pixels, or None: pixel models, and CMD
        stages (a content frame is an image — unless modelled in a latent space; a motion latent decodes
        only with its content frame)."""
        if self.config.get("model", {}).get("target", "video") == "video":
            return self.autoencoder
        return self.latent_autoencoder


def read_json_config(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is corrupt: {err}") from err


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
    autoencoders and text-encoder folder its config.json names must lie inside the folder unless
    ``allow_outside``."""
    path = resolve_model_dir(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{path} is not an exported cinediff model (no config.json)")
    config = read_json_config(config_file)
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
    text_entry = model_config.text_encoder
    if text_entry and not is_default_encoder(text_entry):  # exports carry theirs (text-encoder/)
        text_entry = str(contained(path, text_entry, "model.text_encoder", allow_outside))
    text_encoder = build_text_encoder(text_entry, model_config.text_phrases)
    if text_encoder is not None:
        text_encoder.to(device)
    ae_entry, target_args = config["model"].get("autoencoder"), dict(config["model"].get("target_args", {}))
    autoencoder = load_autoencoder(contained(path, ae_entry, "model.autoencoder", allow_outside)) if ae_entry else None
    if target_args.get("latent"):
        target_args["latent"] = str(contained(path, target_args["latent"], "target_args.latent", allow_outside))
    latent = load_target_latent(target_args)
    return LoadedModel(denoiser, text_encoder, tuple(config["shape"]), float(config["fps"]), config,
                       *to_device(device, autoencoder, latent))


def to_device(device, *modules) -> list:
    """Each module moved to ``device`` (None stays None)."""
    return [m.to(device) if m is not None else None for m in modules]
