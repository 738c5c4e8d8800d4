"""Inception-v1 I3D (Carreira & Zisserman 2017), the FVD feature network.

Module names, shapes and padding follow pytorch-i3d (piergiaj) ``InceptionI3d``, so that
its state dicts (e.g. ``rgb_imagenet.pt`` converted to safetensors) load strictly:
``Conv3d_1a_7x7.conv3d.weight``, ``Mixed_3b.b1b.bn.running_mean``, ``logits.conv3d.bias``...
Inputs are (B, 3, T, 224, 224) in [-1, 1]; every convolution and max-pool pads like
TensorFlow's "SAME" (the extra pixel at the end). ``width`` scales every channel count
(1.0 is the real network; small widths make test networks). Inference only: no dropout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# Inception modules: (name, [b0 1x1, b1 1x1, b1 3x3, b2 1x1, b2 3x3, b3 pool-1x1]), with the
# max-pools that precede Mixed_4b and Mixed_5b.
MIXED = (
    ("Mixed_3b", [64, 96, 128, 16, 32, 32]),
    ("Mixed_3c", [128, 128, 192, 32, 96, 64]),
    ("MaxPool3d_4a_3x3", ((3, 3, 3), (2, 2, 2))),
    ("Mixed_4b", [192, 96, 208, 16, 48, 64]),
    ("Mixed_4c", [160, 112, 224, 24, 64, 64]),
    ("Mixed_4d", [128, 128, 256, 24, 64, 64]),
    ("Mixed_4e", [112, 144, 288, 32, 64, 64]),
    ("Mixed_4f", [256, 160, 320, 32, 128, 128]),
    ("MaxPool3d_5a_2x2", ((2, 2, 2), (2, 2, 2))),
    ("Mixed_5b", [256, 160, 320, 32, 128, 128]),
    ("Mixed_5c", [384, 192, 384, 48, 128, 128]),
)


def same_padding(x: torch.Tensor, kernel, stride) -> torch.Tensor:
    """Zero-pads (B, C, T, H, W) so that a strided window gives ceil(size / stride) outputs."""
    pad = []
    for size, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):
        total = max(k - (s if size % s == 0 else size % s), 0)
        pad += [total // 2, total - total // 2]
    return F.pad(x, pad)


class MaxPool3dSame(nn.Module):
    """Max-pool with "SAME" zero padding (inputs follow a ReLU, so zeros never win)."""

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(same_padding(x, self.kernel, self.stride), self.kernel, self.stride)


class Unit3D(nn.Module):
    """Conv3d ("SAME" padding) -> BatchNorm (eps 1e-3) -> ReLU; the logits unit has a bias
    and neither norm nor activation."""

    def __init__(self, c_in: int, c_out: int, kernel=(1, 1, 1), stride=(1, 1, 1), logits: bool = False):
        super().__init__()
        self.kernel, self.stride, self.logits = tuple(kernel), tuple(stride), logits
        self.conv3d = nn.Conv3d(c_in, c_out, self.kernel, self.stride, bias=logits)
        if not logits:
            self.bn = nn.BatchNorm3d(c_out, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(same_padding(x, self.kernel, self.stride))
        return x if self.logits else F.relu(self.bn(x))


class InceptionModule(nn.Module):
    """Four branches concatenated: 1x1 | 1x1 -> 3x3 | 1x1 -> 3x3 | 3x3 max-pool -> 1x1."""

    def __init__(self, c_in: int, c: list[int]):
        super().__init__()
        self.b0 = Unit3D(c_in, c[0])
        self.b1a, self.b1b = Unit3D(c_in, c[1]), Unit3D(c[1], c[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(c_in, c[3]), Unit3D(c[3], c[4], (3, 3, 3))
        self.b3a, self.b3b = MaxPool3dSame((3, 3, 3), (1, 1, 1)), Unit3D(c_in, c[5])
        self.out_channels = c[0] + c[2] + c[4] + c[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


class InceptionI3d(nn.Module):
    """I3D: videos (B, 3, T, 224, 224) in [-1, 1] -> logits (B, num_classes) or, with
    ``features=True``, the pooled 1024-d features (scaled by ``width``) the logits read."""

    def __init__(self, num_classes: int = 400, width: float = 1.0):
        super().__init__()
        ch = lambda c: max(1, round(c * width))
        self.Conv3d_1a_7x7 = Unit3D(3, ch(64), (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(ch(64), ch(64))
        self.Conv3d_2c_3x3 = Unit3D(ch(64), ch(192), (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        c = ch(192)
        for name, spec in MIXED:
            if name.startswith("MaxPool"):
                self.add_module(name, MaxPool3dSame(*spec))
            else:
                self.add_module(name, InceptionModule(c, [ch(x) for x in spec]))
                c = getattr(self, name).out_channels
        self.avg_pool = nn.AvgPool3d((2, 7, 7), stride=1)
        self.logits = Unit3D(c, num_classes, logits=True)
        self.num_features = c

    def forward(self, x: torch.Tensor, features: bool = False) -> torch.Tensor:
        for name, module in self.named_children():
            if name in ("avg_pool", "logits"):
                break
            x = module(x)
        x = self.avg_pool(x)  # (B, D, T', 1, 1); T' = 1 for 16 frames at 224 px
        x = x if features else self.logits(x)
        return x.mean((2, 3, 4))  # average over T' as pytorch-i3d users do

    @classmethod
    def from_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> InceptionI3d:
        """A network shaped like ``state_dict`` (classes and width read from it), loaded strictly."""
        try:
            num_classes = state_dict["logits.conv3d.weight"].shape[0]
            width = state_dict["Conv3d_1a_7x7.conv3d.weight"].shape[0] / 64
        except KeyError as e:
            raise ValueError(f"not a pytorch-i3d InceptionI3d state dict: no {e.args[0]!r}") from None
        model = cls(num_classes, width)
        model.load_state_dict(state_dict, strict=True)
        return model.eval().requires_grad_(False)
