"""Fréchet Video Distance (Unterthiner et al. 2018) with an I3D network the user supplies.

Nothing is downloaded. ``load_i3d(path)`` reads either

* a TorchScript detector (the StyleGAN-V / common-metrics-on-video-quality
  ``i3d_torchscript.pt``), called as ``detector(videos, rescale=False, resize=False,
  return_features=True)`` (``call_kwargs``), which returns the 400 Kinetics logits; or
* a state dict (``.safetensors``, or ``.pt``/``.pth`` saved with ``torch.save``) of
  pytorch-i3d's ``InceptionI3d`` (:mod:`cinediff.evaluation.i3d`), loaded strictly.

Features are the 400 logits averaged over time (``layer="logits"``): the reference FVD
reads ``RGB/inception_i3d/Mean:0`` of the TF-Hub i3d-kinetics-400 module, and the TorchScript
detector returns the same. ``layer="pool"`` gives the 1024-d pooled features instead (not
comparable with published numbers).

Pitfalls, fixed here and reported with every number (:class:`FVDResult`):

* frames: 16 per clip. Other lengths are refused unless ``allow_other_lengths=True``, which
  feeds the clip as it is (no resampling or looping; I3D averages over time) - numbers at
  different lengths are not comparable.
* resizing: the shorter side to 224 px, then a center crop (square frames: straight to
  224x224), bilinear, ``align_corners=False``, ``antialias=False``: as the PyTorch FVD ports
  (StyleGAN-V, common-metrics-on-video-quality) do. antialias only matters when shrinking
  frames larger than 224 px. The original TF1 code used ``resize_bilinear`` without
  half-pixel centers, which shifts the image by a fraction of a pixel.
* values in [-1, 1] (the range the I3D weights expect; clamped); grayscale repeated to RGB.
* weights: the result names the detector file. The TF-Hub i3d-kinetics-400 weights (and
  their TorchScript port) and pytorch-i3d's ``rgb_imagenet.pt`` are different networks;
  their FVDs are not comparable.
* sample count: FVD is biased upwards at small N; fewer than 2048 clips per set warns.
* real and generated clips go through the same function, :func:`i3d_features`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cinediff.evaluation.frechet import frechet_distance_of_features
from cinediff.evaluation.i3d import InceptionI3d

FRAMES = 16  # clip length of the reference FVD
SIZE = 224  # I3D input side, px
MIN_SAMPLES = 2048  # below this many clips per set, FVD is noticeably biased upwards
TORCHSCRIPT_KWARGS = {"rescale": False, "resize": False, "return_features": True}


@dataclass
class I3D:
    """An I3D feature extractor: ``detector(videos (B, 3, T, 224, 224) in [-1, 1]) -> (B, D)``."""

    network: nn.Module
    source: str  # file it was loaded from
    kind: str  # "torchscript" | "state_dict"
    layer: str = "logits"  # state dicts: "logits" (400) | "pool" (1024)
    call_kwargs: dict = field(default_factory=lambda: dict(TORCHSCRIPT_KWARGS))  # TorchScript only

    @torch.no_grad()
    def __call__(self, videos: torch.Tensor) -> torch.Tensor:
        if self.kind == "torchscript":
            out = self.network(videos, **self.call_kwargs)
        else:
            out = self.network(videos, features=self.layer == "pool")
        return out.reshape(len(videos), -1).float()

    def describe(self) -> str:
        layer = "torchscript features" if self.kind == "torchscript" else self.layer
        return f"I3D {Path(self.source).name} ({layer})"


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{str(path)!r} holds a {type(state).__name__}, not a state dict")
    return state.get("state_dict", state)


def load_i3d(path: str | Path, layer: str = "logits", call_kwargs: dict | None = None,
             device: str | torch.device = "cpu") -> I3D:
    """Load an I3D from a local TorchScript file or an InceptionI3d state dict (see module doc)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"I3D weights {str(path)!r}: no such file (nothing is downloaded; "
                                "pass a local i3d_torchscript.pt or an InceptionI3d state dict)")
    if layer not in ("logits", "pool"):
        raise ValueError(f"layer must be 'logits' or 'pool', got {layer!r}")
    if path.suffix != ".safetensors":
        try:
            network = torch.jit.load(str(path), map_location=device).eval()
            return I3D(network, str(path), "torchscript", layer, dict(call_kwargs or TORCHSCRIPT_KWARGS))
        except RuntimeError:
            pass  # not TorchScript: try a state dict saved with torch.save
    try:
        network = InceptionI3d.from_state_dict(_load_state_dict(path)).to(device)
    except Exception as e:  # corrupt or foreign files fail in many ways
        raise ValueError(f"cannot load I3D from {str(path)!r}: {e}") from e
    return I3D(network, str(path), "state_dict", layer)


def preprocess(videos: torch.Tensor, allow_other_lengths: bool = False) -> torch.Tensor:
    """(B, C, T, H, W) in [-1, 1] -> (B, 3, T, 224, 224): shorter side resized to 224
    (bilinear, align_corners=False, antialias=False), center crop."""
    b, c, t, h, w = videos.shape
    if t != FRAMES and not allow_other_lengths:
        raise ValueError(f"FVD uses {FRAMES}-frame clips, got T={t}; cut or resample the clips, "
                         "or pass allow_other_lengths=True (numbers are then not comparable)")
    if c not in (1, 3):
        raise ValueError(f"videos must have 1 or 3 channels, got {c}")
    frames = videos.float().transpose(1, 2).reshape(b * t, c, h, w).expand(-1, 3, -1, -1)  # (B*T, 3, H, W)
    scale = SIZE / min(h, w)
    size = (max(SIZE, round(h * scale)), max(SIZE, round(w * scale)))
    frames = F.interpolate(frames, size=size, mode="bilinear", align_corners=False, antialias=False)
    top, left = (size[0] - SIZE) // 2, (size[1] - SIZE) // 2
    frames = frames[..., top : top + SIZE, left : left + SIZE].clamp(-1, 1)
    return frames.reshape(b, t, 3, SIZE, SIZE).transpose(1, 2)


def _batches(videos: torch.Tensor | Iterable[torch.Tensor], batch_size: int):
    for chunk in [videos] if torch.is_tensor(videos) else videos:
        yield from chunk.split(batch_size)


def i3d_features(videos: torch.Tensor | Iterable[torch.Tensor], detector: I3D, batch_size: int = 8,
                 allow_other_lengths: bool = False) -> torch.Tensor:
    """(N, D) float64 features of videos (N, C, T, H, W) in [-1, 1], or of an iterable of such
    batches (for sets too large for memory). Real and generated clips both go through here."""
    device = next(detector.network.parameters(), torch.empty(0)).device
    feats = [detector(preprocess(batch, allow_other_lengths).to(device)).double().cpu()
             for batch in _batches(videos, batch_size)]
    return torch.cat(feats)


@dataclass
class FVDResult:
    """An FVD value with what it depends on: report all of it."""

    fvd: float
    num_real: int
    num_fake: int
    detector: str
    frames: int = FRAMES
    size: int = SIZE

    def __str__(self) -> str:
        return (f"FVD {self.fvd:.2f} (N={self.num_real} real / {self.num_fake} generated, "
                f"{self.frames} frames, {self.size}x{self.size} bilinear, {self.detector})")


def fvd_from_features(real: torch.Tensor, fake: torch.Tensor, detector: str = "I3D",
                      frames: int = FRAMES) -> FVDResult:
    """FVD between two feature sets (N, D); warns when a set has fewer than ``MIN_SAMPLES``."""
    if min(len(real), len(fake)) < MIN_SAMPLES:
        warnings.warn(f"FVD from {len(real)} real and {len(fake)} generated clips: below {MIN_SAMPLES} "
                      "per set the estimate is biased upwards; report N with the number", stacklevel=2)
    return FVDResult(frechet_distance_of_features(real, fake), len(real), len(fake), detector, frames)


def fvd(real: torch.Tensor | Iterable[torch.Tensor], fake: torch.Tensor | Iterable[torch.Tensor], detector: I3D,
        batch_size: int = 8, allow_other_lengths: bool = False) -> FVDResult:
    """FVD between real and generated videos (N, C, T, H, W) in [-1, 1] (or iterables of
    batches); both sets must have the same clip length."""
    lengths = set()

    def tracked(videos):
        for batch in _batches(videos, batch_size):
            lengths.add(batch.shape[2])
            yield batch

    feats = [i3d_features(tracked(v), detector, batch_size, allow_other_lengths) for v in (real, fake)]
    if len(lengths) != 1:
        raise ValueError(f"real and generated clips must have one common length, got T in {sorted(lengths)}")
    return fvd_from_features(*feats, detector=detector.describe(), frames=lengths.pop())
