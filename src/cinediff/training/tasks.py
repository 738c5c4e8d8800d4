"""What is trained: a task module maps a batch to a loss; the trainer does the rest.

``task(batch, generators) -> (loss, logs)``: ``loss`` is per sample ``(B,)`` or a scalar;
``generators`` are the per-sample generators of the batch (see ``training.data``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from cinediff.autoencoders import load_autoencoder
from cinediff.diffusion.precond import per_sample_uniform
from cinediff.models.build import build_denoiser, build_text_encoder, load_target_latent
from cinediff.models.config import ModelConfig
from cinediff.models.targets import make_target
from cinediff.noise import noise_prior
from cinediff.text import reads_token_ids, text_condition


class Frozen:
    """Holds a frozen helper model (text encoder, autoencoder) outside the trained module,
    so it is neither optimised, wrapped by DDP, nor written into checkpoints."""

    def __init__(self, module: nn.Module | None):
        self.module = module

    def to(self, *args, **kwargs) -> Frozen:
        if self.module is not None:
            self.module.to(*args, **kwargs)
        return self


class DiffusionTask(nn.Module):
    """Text-conditioned denoising with any formulation × noise prior × backbone.

    Each sample is trained on the empty prompt with probability ``cond_dropout`` (for CFG).
    With ``config.autoencoder`` the clips are first encoded by that frozen autoencoder
    (a latent video diffusion model, e.g. Latent-Shift).
    """

    def __init__(self, config: ModelConfig, text_encoder=None):
        super().__init__()
        self.denoiser = build_denoiser(config)
        self.prior = noise_prior(config.noise_prior, config.noise_alpha)
        self.cond_dropout = config.cond_dropout
        self.text_ids = reads_token_ids(self.denoiser)  # learned token embeddings read the tokenizer's ids
        self.temporal_loss_weight = config.temporal_loss_weight
        self.text = Frozen(build_text_encoder(config.text_encoder, config.text_phrases, shared=text_encoder))
        self.autoencoder = Frozen(load_autoencoder(config.autoencoder) if config.autoencoder else None)
        self.target_kind, self.target_args = config.target, dict(config.target_args)
        self.latent_autoencoder = Frozen(load_target_latent(self.target_args))

    def to(self, *args, **kwargs):
        for frozen in (self.text, self.autoencoder, self.latent_autoencoder):
            frozen.to(*args, **kwargs)
        return super().to(*args, **kwargs)

    def target(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Clips (B, C, T, H, W) → (what the denoiser models, its conditioning frames or None)."""
        return make_target(self.target_kind, video, self.autoencoder.module, self.latent_autoencoder.module,
                           **self.target_args)

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        return self.target(video)[0]

    def conditioning(self, batch: dict, generators: Sequence[torch.Generator]) -> dict:
        cond = {"fps": batch["fps"]} if "fps" in batch else {}
        if self.text.module is None:
            return cond
        drop = per_sample_uniform(len(generators), generators) < self.cond_dropout
        captions = ["" if d else c for d, c in zip(drop.tolist(), batch["caption"])]
        return cond | text_condition(self.text.module, captions, self.text_ids)

    def forward(self, batch: dict, generators: Sequence[torch.Generator]):
        cond = self.conditioning(batch, generators)
        x0, cond_frames = self.target(batch["video"])
        if cond_frames is not None:
            cond["cond_frames"] = cond_frames
        loss = self.denoiser.training_loss(x0, self.prior, generators, self.temporal_loss_weight, **cond)
        return loss, {}


class AutoencoderTask(nn.Module):
    """Reconstruction training of an autoencoder (its own ``training_loss``)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        from cinediff.autoencoders import build_autoencoder

        self.autoencoder = build_autoencoder(config.backbone, **config.backbone_args)

    def forward(self, batch: dict, generators: Sequence[torch.Generator]):
        return self.autoencoder.training_loss(batch["video"], generator=generators[0])


def build_task(config: ModelConfig, text_encoder=None) -> nn.Module:
    if config.task == "diffusion":
        return DiffusionTask(config, text_encoder)
    if config.task == "autoencoder":
        return AutoencoderTask(config)
    raise ValueError(f"unknown task {config.task!r}; choose diffusion or autoencoder")
