"""FVD: I3D layout, both loaders, preprocessing pitfalls and the distance on small random sets."""

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from cinediff.evaluation.fvd import fvd, i3d_features, load_i3d, preprocess
from cinediff.evaluation.i3d import InceptionI3d

TINY_WIDTH = 1 / 16  # 4..24 channels per branch: a fast I3D-shaped network


def test_full_network_has_pytorch_i3d_layout():
    # Counts from piergiaj/pytorch-i3d InceptionI3d(400) (checked against its code: same
    # keys, shapes and outputs bit for bit on a random 16x224x224 clip).
    net = InceptionI3d()
    assert len(net.state_dict()) == 344 and sum(p.numel() for p in net.parameters()) == 12697264
    sd = net.state_dict()
    assert sd["Conv3d_1a_7x7.conv3d.weight"].shape == (64, 3, 7, 7, 7)
    assert sd["Mixed_5c.b1b.bn.running_var"].shape == (384,)
    assert sd["logits.conv3d.weight"].shape == (400, 1024, 1, 1, 1) and "logits.conv3d.bias" in sd


@pytest.fixture(scope="module")
def tiny_i3d_file(tmp_path_factory):
    torch.manual_seed(0)
    net = InceptionI3d(num_classes=10, width=TINY_WIDTH).eval()
    for m in net.modules():  # variance-preserving weights, non-trivial running statistics
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        if isinstance(m, nn.BatchNorm3d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("i3d") / "i3d.safetensors"
    save_file(net.state_dict(), str(path))
    return path, net


def videos(n, seed, shift=0.0, frames=16, size=32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 3, frames, size, size, generator=g) * 1.6 - 0.8 + shift).clamp(-1, 1)


def test_state_dict_loads_strictly_and_matches(tiny_i3d_file):
    path, net = tiny_i3d_file
    detector = load_i3d(path)
    assert detector.kind == "state_dict" and detector.network.num_features == 64
    x = preprocess(videos(2, 0))
    with torch.no_grad():
        torch.testing.assert_close(detector(x), net(x))
        assert detector(x).shape == (2, 10)
        detector.layer = "pool"
        torch.testing.assert_close(detector(x), net(x, features=True))


def test_fvd_identical_and_shifted_sets(tiny_i3d_file):
    detector = load_i3d(tiny_i3d_file[0])
    real = videos(6, 1)
    with pytest.warns(UserWarning, match="biased"):
        same = fvd(real, real.clone(), detector, batch_size=4)
    with pytest.warns(UserWarning, match="biased"):
        shifted = fvd(real, videos(6, 2, shift=0.5).split(3), detector)  # an iterable of batches
    assert abs(same.fvd) < 1e-9 and shifted.fvd > 0.5
    assert (same.num_real, same.num_fake, same.frames, same.size) == (6, 6, 16, 224)
    assert "N=6 real / 6 generated" in str(shifted) and "i3d.safetensors" in str(shifted)


def test_torch_save_state_dict(tiny_i3d_file, tmp_path):
    path, net = tiny_i3d_file
    torch.save(net.state_dict(), tmp_path / "rgb_imagenet.pt")
    detector = load_i3d(tmp_path / "rgb_imagenet.pt")
    x = preprocess(videos(1, 3))
    assert detector.kind == "state_dict" and torch.equal(detector(x), load_i3d(path)(x))


class TinyScriptDetector(nn.Module):
    """The call signature of the StyleGAN-V i3d_torchscript.pt."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(3, 5)

    def forward(self, x: torch.Tensor, rescale: bool = True, resize: bool = True,
                return_features: bool = False) -> torch.Tensor:
        if rescale:
            x = x * 2 - 1
        feats = self.proj(x.mean((2, 3, 4)))
        return feats if return_features else feats.softmax(-1)


def test_torchscript_detector(tmp_path):
    path = tmp_path / "i3d_torchscript.pt"
    script = torch.jit.script(TinyScriptDetector())
    script.save(str(path))
    detector = load_i3d(path)
    assert detector.kind == "torchscript"
    real = videos(3, 4)
    feats = i3d_features(real, detector)
    expected = script(preprocess(real), rescale=False, resize=False, return_features=True).double()
    torch.testing.assert_close(feats, expected)
    other = load_i3d(path, call_kwargs={"rescale": False, "resize": False, "return_features": False})
    torch.testing.assert_close(i3d_features(real, other).sum(1), torch.ones(3, dtype=torch.float64))


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_i3d(tmp_path / "nope.pt")
    for name, data in [("junk.pt", b"not a model"), ("junk.safetensors", b"\x00" * 64)]:
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ValueError, match=name):
            load_i3d(tmp_path / name)
    save_file({"weight": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="other.safetensors.*not a pytorch-i3d"):
        load_i3d(tmp_path / "other.safetensors")


def test_preprocess():
    x = videos(2, 5, size=32)
    out = preprocess(x)
    assert out.shape == (2, 3, 16, 224, 224)
    frame = F.interpolate(x[:, :, 3], size=(224, 224), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out[:, :, 3], frame)
    gray = preprocess(x[:, :1])
    assert torch.equal(gray[:, 0], gray[:, 2])
    wide = torch.rand(1, 3, 16, 32, 64)
    assert preprocess(wide).shape == (1, 3, 16, 224, 224)  # 224x448, center crop
    with pytest.raises(ValueError, match="16-frame"):
        preprocess(videos(1, 0, frames=12))
    assert preprocess(videos(1, 0, frames=12), allow_other_lengths=True).shape[2] == 12


def test_lengths_must_agree(tiny_i3d_file):
    detector = load_i3d(tiny_i3d_file[0])
    with pytest.raises(ValueError, match="common length"):
        fvd(videos(2, 0, frames=16), videos(2, 1, frames=12), detector, allow_other_lengths=True)
