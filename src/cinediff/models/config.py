"""What a model is: the plain dataclass a run file's ``[model]`` table fills (backbone, formulation,
noise prior, text encoder, autoencoder, target). Training adds data, optimiser and schedule
(``training.config.RunConfig``); exports carry this table in their config.json."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelConfig:
    task: str = "diffusion"  # "diffusion" (text-to-video denoiser) or "autoencoder"
    backbone: str = "unet"  # diffusion: unet | fit | dit ; autoencoder: vae | cmd
    backbone_args: dict = field(default_factory=dict)  # fields of the backbone's config dataclass
    formulation: str = "edm"  # edm | vp
    formulation_args: dict = field(default_factory=dict)  # EDMPrecond / VPPrecond + VPSchedule keyword args
    noise_prior: str = "iid"  # iid | mixed | progressive (PYoCo)
    noise_alpha: float | None = None  # None: the prior's documented default
    text_encoder: str | None = "minilm"  # a local transformers dir, "minilm", or "" for unconditional
    text_phrases: bool = False  # encode each " and "-joined phrase of a prompt on its own (text/phrases.py)
    cond_dropout: float = 0.1  # probability of training a sample on the empty prompt (for CFG)
    temporal_loss_weight: float = 0.0  # λ of the frame-difference term of the denoising loss (Precond.loss)
    binding_loss_weight: float = 0.0  # λ of a margin loss on clips whose data carries an "exchanged_caption"
    #                                   (moving-shapes exchanged_captions): DiffusionTask.binding_penalty
    binding_margin: float = 0.05  # ... the relative loss rise the exchanged caption should cost at least
    binding_min_sigma: float = 0.5  # ... on clips noised above this σ only (below it the clip shows its own motion)
    init_from: str | None = None  # weights that start this run: a run/checkpoint folder, a saved autoencoder or an export
    autoencoder: str | None = None  # saved autoencoder folder: diffuse in its latent space (latent VDMs)
    target: str = "video"  # what is generated: video | keyframes-interpolation | super-resolution | cmd-content | cmd-motion
    target_args: dict = field(default_factory=dict)  # e.g. {stride = 4}, {factor = 4}, cmd-content: {latent = "vae"}
