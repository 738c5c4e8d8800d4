"""Autoencoders behind one interface (STYLE.md §12): ``encode``, ``decode``, ``training_loss``.

``FrameVAE``: SD-style KL autoencoder applied frame by frame, loads diffusers ``AutoencoderKL`` folders.
``CMDAutoencoder``: CMD's content frame + motion latent (METHODS.md §4).
"""

from cinediff.autoencoders.base import Autoencoder, check_divisible
from cinediff.autoencoders.cmd import CMDAutoencoder, CMDConfig
from cinediff.autoencoders.vae import FrameVAE, VAEConfig, estimate_scaling_factor, gradient_loss

AUTOENCODERS = {"vae": (FrameVAE, VAEConfig), "cmd": (CMDAutoencoder, CMDConfig)}


def build_autoencoder(name: str, **args) -> Autoencoder:
    """An autoencoder by registry name with its config fields as keyword arguments."""
    from cinediff.configuration import make_config

    if name not in AUTOENCODERS:
        raise ValueError(f"unknown autoencoder {name!r}; choose one of {sorted(AUTOENCODERS)}")
    model_cls, config_cls = AUTOENCODERS[name]
    return model_cls(make_config(config_cls, args))


__all__ = [
    "AUTOENCODERS",
    "build_autoencoder",
    "Autoencoder",
    "CMDAutoencoder",
    "CMDConfig",
    "FrameVAE",
    "VAEConfig",
    "check_divisible",
    "estimate_scaling_factor",
    "gradient_loss",
]
