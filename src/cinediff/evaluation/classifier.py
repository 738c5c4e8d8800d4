"""An in-domain video classifier for the built-in data: its penultimate features give a
Fréchet distance that, unlike I3D's, sees what moving-shapes/moving-digits are about.

A small 3D CNN predicts the first object's color, shape, motion and digit (heads whose label
is absent for a clip, e.g. the digit of a shape, are masked out). Trained by
:func:`train_classifier` on moving-shapes and moving-digits and shipped in
``cinediff/assets/classifier``; clips are resized to 16×32×32 before it sees them.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cinediff.data.attributes import COLORS, MOTIONS, SHAPES
from cinediff.weights import load_tensors, save_tensors

HEADS = {"color": list(COLORS), "shape": list(SHAPES), "motion": list(MOTIONS), "digit": [str(d) for d in range(10)]}
INPUT = (16, 32, 32)  # (T, H, W) the classifier sees


def _block(cin: int, cout: int, stride: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(8, cout), nn.SiLU())


class VideoClassifier(nn.Module):
    """(B, 3, T, H, W) in [-1, 1] → ``features`` (B, width) and one logit vector per head."""

    def __init__(self, width: int = 128):
        super().__init__()
        self.width = width
        self.net = nn.Sequential(_block(3, 32, (1, 2, 2)), _block(32, 64, (2, 2, 2)), _block(64, 96, (2, 2, 2)),
                                 _block(96, width, (2, 2, 2)), nn.AdaptiveMaxPool3d(1), nn.Flatten())  # objects are small: max, not mean
        self.heads = nn.ModuleDict({name: nn.Linear(width, len(labels)) for name, labels in HEADS.items()})

    def features(self, video: torch.Tensor) -> torch.Tensor:
        """Penultimate features (B, width) of clips resized to :data:`INPUT`."""
        return self.net(F.interpolate(video.float(), size=INPUT, mode="trilinear", align_corners=False))

    def forward(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.features(video)
        return {name: head(feats) for name, head in self.heads.items()}


def labels_of(records: list[dict]) -> dict[str, torch.Tensor]:
    """Per-head class indices of each clip's first object; -1 where the head does not apply."""
    out = {}
    for name, labels in HEADS.items():
        values = [str(r["objects"][0].get(name, "")) for r in records]
        out[name] = torch.tensor([labels.index(v) if v in labels else -1 for v in values])
    return out


def classifier_loss(model: VideoClassifier, video: torch.Tensor, labels: dict[str, torch.Tensor]) -> torch.Tensor:
    logits = model(video)
    return sum(F.cross_entropy(logits[k], labels[k], ignore_index=-1) for k in HEADS if (labels[k] >= 0).any())


def train_classifier(steps: int = 600, batch_size: int = 32, out_dir: str | Path | None = None, seed: int = 0,
                     log_every: int = 100) -> VideoClassifier:
    """Train on moving-shapes (all splits, one- and two-object clips) and moving-digits, alternating."""
    from cinediff.data import build_dataset
    from cinediff.runtime import prepare_cpu_math

    prepare_cpu_math("cpu")
    torch.manual_seed(seed)
    sets = [build_dataset(name, frames=INPUT[0], height=INPUT[1], width=INPUT[2], seed=seed, length=10**6, **extra)
            for name, extra in (("moving-shapes", {"split": "all"}), ("moving-digits", {}))]
    model = VideoClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for step in range(steps):
        data = sets[step % len(sets)]
        video, records = data.render_batch(range(step * batch_size, (step + 1) * batch_size))
        loss = classifier_loss(model, video, labels_of(records))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if log_every and step % log_every == 0:
            print(f"classifier step {step}: loss {loss.item():.4f}", flush=True)
    model.eval()
    if out_dir is not None:
        save_classifier(model, out_dir)
    return model


def save_classifier(model: VideoClassifier, out_dir: str | Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    save_tensors(out_dir / "model.safetensors", model.state_dict())
    (out_dir / "config.json").write_text(json.dumps({"width": model.width, "heads": HEADS, "input": INPUT}))
    return out_dir


def default_classifier_dir() -> Path:
    return Path(str(resources.files("cinediff") / "assets" / "classifier"))


def load_classifier(path: str | Path | None = None) -> VideoClassifier:
    """The shipped classifier (or one saved by :func:`save_classifier`), frozen, in eval mode."""
    path = Path(path) if path is not None else default_classifier_dir()
    config_file = path / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"no in-domain classifier at {path} (train one with train_classifier)")
    model = VideoClassifier(json.loads(config_file.read_text())["width"])
    model.load_state_dict(load_tensors(path / "model.safetensors"))
    return model.eval().requires_grad_(False)


@torch.no_grad()
def classifier_features(model: VideoClassifier, videos: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """(N, width) penultimate features of clips (N, 3, T, H, W)."""
    return torch.cat([model.features(videos[i:i + batch_size]) for i in range(0, len(videos), batch_size)])


@torch.no_grad()
def accuracy(model: VideoClassifier, videos: torch.Tensor, records: list[dict]) -> dict[str, float]:
    """Per-head accuracy on clips whose first object has that attribute."""
    logits, labels = model(videos), labels_of(records)
    out = {}
    for name in HEADS:
        valid = labels[name] >= 0
        if valid.any():
            out[name] = (logits[name].argmax(1)[valid] == labels[name][valid]).float().mean().item()
    return out
