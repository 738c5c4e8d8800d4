"""Autoencoder reconstruction quality: PSNR of ``decode(encode(clip))`` on held-out clips of each built-in set.

PSNR is computed per clip over all its frames and channels, on pixels mapped from [-1, 1] to
[0, 1] (data range 1, as ``skimage.metrics.peak_signal_noise_ratio(..., data_range=1)``), then
averaged over clips. Reconstructions are clamped to [-1, 1] first, as a written video would be.

PSNR is dominated by the background where objects are a few % of the pixels (an autoencoder
that paints every moving-shapes object grey still scores 22 dB), so on moving-shapes the report
also has the alignment judge's accuracy on the reconstructions against the clips' captions
(colour, shape, motion; ~100 % on the clips themselves): what a latent model can render at best.
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


def held_out_set(dataset: str, num: int, **data_args) -> tuple[torch.Tensor, list[str]]:
    """``num`` test clips of a built-in set, (num, C, T, H, W), and their captions. moving-shapes: its
    ``heldout`` split (attribute combinations absent from training); the others: clips of
    :data:`HELD_OUT_SEED` (new motions, positions and crops of the same digit images and photos)."""
    from dataclasses import fields

    from cinediff.data import build_dataset, dataset_class

    config_fields = {f.name for f in fields(dataset_class(dataset).config_class)}
    held_out = {"split": "heldout"} if "split" in config_fields else {"seed": HELD_OUT_SEED}
    data = build_dataset(dataset, **held_out, **data_args)
    items = [data[i] for i in range(num)]
    return torch.stack([item["video"] for item in items]), [item["caption"] for item in items]


@torch.no_grad()
def reconstruct(autoencoder: Autoencoder, videos: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """``decode(encode(videos))`` clamped to [-1, 1], in batches, on the CPU."""
    device = next(autoencoder.parameters()).device
    return torch.cat([autoencoder.reconstruct(b.to(device)).clamp(-1, 1).cpu() for b in videos.split(batch_size)])


def judged_accuracy(videos: torch.Tensor, captions: list[str]) -> dict[str, float]:
    """The alignment judge's colour / shape / motion accuracy of moving-shapes clips against captions."""
    from cinediff.evaluation.judge import judge_video, verdict_accuracy

    found = verdict_accuracy([judge_video(v, c) for v, c in zip(videos, captions)])
    return {f"judge_{k}": found[k] for k in ("color", "shape", "motion")}


def reconstruction_psnr(autoencoder: Autoencoder, videos: torch.Tensor, batch_size: int = 8) -> torch.Tensor:
    """Per-clip PSNR (dB) of the autoencoder's reconstructions of ``videos`` (N, C, T, H, W); (N,)."""
    return psnr(videos, reconstruct(autoencoder, videos, batch_size))


def reconstruction_report(autoencoder: Autoencoder, sets: tuple[str, ...] = BUILTIN_SETS, num: int = 64,
                          batch_size: int = 8, **data_args) -> dict:
    """Mean/std/min PSNR per built-in set on ``num`` held-out clips each (``data_args``: frames, height,
    width); moving-shapes also the judge's accuracies on the reconstructions (:func:`judged_accuracy`)."""
    report = {}
    for name in tqdm(sets, desc="reconstruct", leave=False):
        videos, captions = held_out_set(name, num, **data_args)
        start = time.perf_counter()
        rebuilt = reconstruct(autoencoder, videos, batch_size)
        seconds = time.perf_counter() - start
        scores = psnr(videos, rebuilt)
        report[name] = {"psnr_db": scores.mean().item(), "psnr_std_db": scores.std().item(),
                        "psnr_min_db": scores.min().item(), "clips": num, "shape": list(videos.shape[1:]),
                        "seconds": seconds}
        if name == "moving-shapes":
            report[name] |= judged_accuracy(rebuilt, captions)
    return report
