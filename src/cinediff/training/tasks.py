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

    With ``binding_loss_weight`` λ > 0, clips whose record carries an ``exchanged_caption`` (the
    same words bound to the other object, e.g. the two objects' motions exchanged) add
    λ · max(0, m − (L_exchanged − L_true) / L_true) (:meth:`binding_penalty`): the denoising loss
    of the same noisy clip read with the exchanged caption should be at least m (``binding_margin``)
    above the true caption's, on clips noised above ``binding_min_sigma`` (at low noise the clip shows
    its own motion, whatever the caption: even reversing every motion word costs < 2 % below σ 0.2).
    The plain loss barely depends on which object a word describes (``bench.diagnose.binding_test``:
    ~0 for the shipped default), so this states it outright.
    """

    def __init__(self, config: ModelConfig, text_encoder=None):
        super().__init__()
        self.denoiser = build_denoiser(config)
        self.prior = noise_prior(config.noise_prior, config.noise_alpha)
        self.cond_dropout = config.cond_dropout
        self.text_ids = reads_token_ids(self.denoiser)  # learned token embeddings read the tokenizer's ids
        self.temporal_loss_weight = config.temporal_loss_weight
        self.binding_loss_weight, self.binding_margin = config.binding_loss_weight, config.binding_margin
        self.binding_min_sigma = config.binding_min_sigma
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

    def training_captions(self, batch: dict, generators: Sequence[torch.Generator]) -> list[str]:
        """The batch's captions, each replaced by the empty prompt with probability ``cond_dropout``."""
        drop = per_sample_uniform(len(generators), generators) < self.cond_dropout
        return ["" if d else c for d, c in zip(drop.tolist(), batch["caption"])]

    def conditioning(self, batch: dict, captions: list[str] | None) -> dict:
        cond = {"fps": batch["fps"]} if "fps" in batch else {}
        if self.text.module is None:
            return cond
        return cond | text_condition(self.text.module, captions, self.text_ids)

    def forward(self, batch: dict, generators: Sequence[torch.Generator]):
        captions = self.training_captions(batch, generators) if self.text.module is not None else None
        cond = self.conditioning(batch, captions)
        x0, cond_frames = self.target(batch["video"])
        if cond_frames is not None:
            cond["cond_frames"] = cond_frames
        if not self.binding_loss_weight:
            return self.denoiser.training_loss(x0, self.prior, generators, self.temporal_loss_weight, **cond), {}
        sigma, noise = self.denoiser.training_draws(x0, self.prior, generators)
        loss = self.denoiser.loss(x0, sigma, noise, self.temporal_loss_weight, **cond)
        penalty, gap = self.binding_penalty(batch, captions, x0, sigma, noise, cond, loss)
        return loss + self.binding_loss_weight * penalty, ({"binding_gap": gap} if gap is not None else {})

    def binding_penalty(self, batch: dict, captions: list[str] | None, x0: torch.Tensor, sigma: torch.Tensor,
                        noise: torch.Tensor, cond: dict, loss: torch.Tensor) -> tuple[torch.Tensor, float | None]:
        """Per-sample max(0, m − (L_exchanged − L_true) / L_true) ``(B,)``, zero for clips without an
        exchanged caption, trained on the empty prompt or noised below ``binding_min_sigma``; and the
        mean relative gap of the others."""
        records = batch.get("attributes") or [{}] * len(x0)
        rows = [i for i, (r, c, s) in enumerate(zip(records, captions or [""] * len(x0), sigma.tolist()))
                if c and r.get("exchanged_caption") and s > self.binding_min_sigma]
        penalty = torch.zeros_like(loss)
        if not rows:
            return penalty, None
        index = torch.tensor(rows, device=x0.device)
        other = {k: v[index] for k, v in cond.items() if torch.is_tensor(v) and v.ndim and v.shape[0] == len(x0)}
        other |= text_condition(self.text.module, [records[i]["exchanged_caption"] for i in rows], self.text_ids)
        exchanged = self.denoiser.loss(x0[index], sigma[index], noise[index], self.temporal_loss_weight, **other)
        gap = (exchanged - loss[index]) / loss[index].detach()
        return penalty.index_put((index,), (self.binding_margin - gap).clamp(min=0)), float(gap.detach().mean())


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
