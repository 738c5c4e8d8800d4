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


SHIPPED = ("cmd-autoencoder", "vae")  # trained by the packaged recipes, in cinediff/assets/<name>


def resolve_autoencoder_dir(directory):
    """``directory`` itself, or for the name of a shipped autoencoder (:data:`SHIPPED`) that is not
    a folder here, its folder inside the package."""
    from importlib import resources
    from pathlib import Path

    if str(directory) in SHIPPED and not Path(directory).exists():
        return Path(str(resources.files("cinediff") / "assets" / str(directory)))
    return Path(directory)


def load_autoencoder(directory) -> Autoencoder:
    """A frozen autoencoder saved with ``save_pretrained`` (its class is read from config.json),
    a shipped one by name (``"cmd-autoencoder"``, ``"vae"``), or a diffusers ``AutoencoderKL`` folder."""
    import json

    directory = resolve_autoencoder_dir(directory)
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"no config.json in {directory}: not a saved cinediff autoencoder")
    config = json.loads(config_file.read_text())
    if config.get("_class_name") == "AutoencoderKL":  # a diffusers VAE folder (e.g. Stable Diffusion's vae/)
        from cinediff.autoencoders.vae import FrameVAE

        return FrameVAE.from_diffusers(directory).eval().requires_grad_(False)
    name = config.get("class")
    classes = {cls.__name__: cls for cls, _ in AUTOENCODERS.values()}
    if name not in classes:
        raise ValueError(f"{config_file} names autoencoder class {name!r}; known: {sorted(classes)}")
    return classes[name].from_pretrained(directory).eval().requires_grad_(False)


__all__ = [
    "AUTOENCODERS",
    "SHIPPED",
    "resolve_autoencoder_dir",
    "load_autoencoder",
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
