"""Autoencoder reconstruction quality: PSNR of ``decode(encode(clip))`` on held-out clips of each built-in set.

PSNR is computed per clip over all its frames and channels, on pixels mapped from [-1, 1] to
[0, 1] (data range 1, as ``skimage.metrics.peak_signal_noise_ratio(..., data_range=1)``), then
averaged over clips. Reconstructions are clamped to [-1, 1] first, as a written video would be.
"""

from __future__ import annotations

import time

import torch
from tqdm import tqdm

from cinediff.autoencoders import Autoencoder

BUILTIN_SETS = ("moving-shapes", "moving-digits", "camera-moves")
HELD_OUT_SEED = 1_000_003  # sets without a held-out split: clips of a seed no recipe trains on


def psnr(reference: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """Per-clip PSNR in dB of (B, C, T, H, W) videos in [-1, 1]; (B,)."""
    if reference.shape != reconstruction.shape:
        raise ValueError(f"shapes differ: {tuple(reference.shape)} vs {tuple(reconstruction.shape)}")
    err = (reconstruction.double().clamp(-1, 1) - reference.double()) / 2  # on the [0, 1] scale
    mse = err.square().flatten(1).mean(dim=1)
    return -10 * torch.log10(mse.clamp_min(1e-20))


def held_out_clips(dataset: str, num: int, **data_args) -> torch.Tensor:
    """``num`` test clips of a built-in set: (num, C, T, H, W). moving-shapes: its ``heldout`` split
    (attribute combinations absent from training); the others: clips of :data:`HELD_OUT_SEED`
    (new motions, positions and crops of the same digit images and photos)."""
    from dataclasses import fields

    from cinediff.data import build_dataset, dataset_class

    config_fields = {f.name for f in fields(dataset_class(dataset).config_class)}
    held_out = {"split": "heldout"} if "split" in config_fields else {"seed": HELD_OUT_SEED}
    data = build_dataset(dataset, **held_out, **data_args)
    return torch.stack([data[i]["video"] for i in range(num)])


@torch.no_grad()
def reconstruction_psnr(autoencoder: Autoencoder, videos: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """Per-clip PSNR (dB) of the autoencoder's reconstructions of ``videos`` (N, C, T, H, W); (N,)."""
    device = next(autoencoder.parameters()).device
    scores = [psnr(batch, autoencoder.reconstruct(batch.to(device)).cpu()) for batch in videos.split(batch_size)]
    return torch.cat(scores)


def reconstruction_report(autoencoder: Autoencoder, sets: tuple[str, ...] = BUILTIN_SETS, num: int = 64,
                          batch_size: int = 8, **data_args) -> dict:
    """Mean/std/min PSNR per built-in set on ``num`` held-out clips each (``data_args``: frames, height, width)."""
    report = {}
    for name in tqdm(sets, desc="reconstruct", leave=False):
        videos = held_out_clips(name, num, **data_args)
        start = time.perf_counter()
        scores = reconstruction_psnr(autoencoder, videos, batch_size)
        report[name] = {"psnr_db": scores.mean().item(), "psnr_std_db": scores.std().item(),
                        "psnr_min_db": scores.min().item(), "clips": num, "shape": list(videos.shape[1:]),
                        "seconds": time.perf_counter() - start}
    return report
