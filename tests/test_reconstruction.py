"""Autoencoder evaluation: PSNR against skimage, held-out clips, the concat data set, export's
scaling factor, and ``cinediff eval`` on an autoencoder run."""

import json

import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio
from typer.testing import CliRunner

from cinediff.autoencoders import build_autoencoder
from cinediff.cli.main import app
from cinediff.data import build_dataset
from cinediff.evaluation.reconstruction import held_out_set, psnr, reconstruction_psnr, reconstruction_report
from cinediff.training.export import is_autoencoder, load_any_autoencoder
from cinediff.training.export import export_model
from cinediff.training.config import load_config
from cinediff.training.trainer import train

SMALL = dict(frames=4, height=16, width=16)


def test_psnr_matches_skimage():
    g = torch.Generator().manual_seed(0)
    ref = torch.rand(3, 3, 4, 8, 8, generator=g) * 2 - 1
    rec = (ref + 0.1 * torch.randn(ref.shape, generator=g)).clamp(-1, 1)
    expected = [peak_signal_noise_ratio(((r + 1) / 2).numpy(), ((x + 1) / 2).numpy(), data_range=1) for r, x in zip(ref, rec)]
    assert psnr(ref, rec).tolist() == pytest.approx(expected, rel=1e-7)  # skimage sees float32 pixels
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(ref, rec[:, :, :2])


class ShiftedAutoencoder(torch.nn.Module):
    """reconstruct(x) = x + 0.1: PSNR = −10·log10(0.05²) = 26.02 dB where nothing clips."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(()))

    def reconstruct(self, video):
        return video + 0.1


def test_reconstruction_psnr_of_a_known_error():
    videos = torch.rand(5, 3, 2, 4, 4) * 1.6 - 0.8  # stays below 0.9: the +0.1 never clips
    scores = reconstruction_psnr(ShiftedAutoencoder(), videos, batch_size=2)
    assert scores.shape == (5,) and scores.tolist() == pytest.approx([26.0206] * 5, abs=1e-3)


def test_held_out_sets_are_not_training_clips():
    shapes = held_out_set("moving-shapes", 4, **SMALL)[0]
    data = build_dataset("moving-shapes", split="heldout", **SMALL)
    held_out = {("purple", "triangle"), ("cyan", "up")}
    for i in range(4):  # every held-out moving-shapes clip has a held-out attribute combination
        objects = data.attributes(i)["objects"]
        assert any({(o["color"], o["shape"]), (o["color"], o["motion"])} & held_out for o in objects)
    assert shapes.shape == (4, 3, 4, 16, 16)
    digits = held_out_set("moving-digits", 2, **SMALL)[0]
    train_digits = build_dataset("moving-digits", **SMALL)
    assert not torch.equal(digits[0], train_digits[0]["video"])


def test_concat_joins_sets_in_order():
    data = build_dataset("concat", sets=["moving-shapes", {"name": "moving-digits", "length": 5}], length=3, **SMALL)
    assert len(data) == 8 and data.locate(2) == (0, 2) and data.locate(3) == (1, 0) and data.locate(7) == (1, 4)
    digits = build_dataset("moving-digits", length=5, **SMALL)
    item = data[4]
    assert torch.equal(item["video"], digits[1]["video"]) and item["caption"] == digits[1]["caption"] and item["index"] == 4
    with pytest.raises(IndexError):
        data[8]
    with pytest.raises(ValueError, match="at least one"):
        build_dataset("concat", sets=[])
    with pytest.raises(ValueError, match="name"):
        build_dataset("concat", sets=[{"length": 3}])


@pytest.fixture(scope="module")
def cmd_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmd")
    cfg = load_config("cmd-autoencoder", [
        "model.backbone_args={width=8, min_width=8, depth=1, norm_groups=4, factor=2}", "data.batch_size=2",
        "data.args={frames=4, height=16, width=16, length=16}", "train.steps=2", "train.precision=fp32",
        f"train.out_dir='{root / 'run'}'"])
    return train(cfg)


def test_export_estimates_the_latent_scaling_factor(cmd_run, tmp_path):
    out = export_model(cmd_run, tmp_path / "export")
    autoencoder = load_any_autoencoder(out)
    assert is_autoencoder(out) and is_autoencoder(cmd_run) and autoencoder.scaling_factor != 1.0
    data = build_dataset("moving-shapes", frames=4, height=16, width=16, length=16)
    motion = autoencoder.diffusion_latent(torch.stack([item["video"] for item in data]))  # the run's 16 clips
    assert motion.std().item() == pytest.approx(1.0, rel=1e-3)
    same = load_any_autoencoder(cmd_run)  # the run folder itself: its weights, scaling factor 1
    assert torch.equal(same.state_dict()["conv_out.weight"], autoencoder.state_dict()["conv_out.weight"])


def test_eval_command_reports_psnr_per_builtin_set(cmd_run, tmp_path):
    result = CliRunner().invoke(app, ["eval", str(cmd_run), "--num", "2", "-o", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert set(metrics) == {"moving-shapes", "moving-digits", "camera-moves"}
    assert all(row["clips"] == 2 and row["shape"] == [3, 16, 64, 64] for row in metrics.values())
    autoencoder = load_any_autoencoder(cmd_run)
    expected = reconstruction_psnr(autoencoder, held_out_set("moving-digits", 2)[0]).mean().item()
    assert metrics["moving-digits"]["psnr_db"] == pytest.approx(expected, rel=1e-6)


def test_report_uses_the_requested_clip_shape():
    autoencoder = build_autoencoder("cmd", width=8, min_width=8, depth=1, norm_groups=4, factor=2)
    report = reconstruction_report(autoencoder, sets=("camera-moves",), num=2, **SMALL)
    assert report["camera-moves"]["shape"] == [3, 4, 16, 16] and report["camera-moves"]["psnr_db"] > 0


def test_judged_accuracy_of_reconstructions_sees_lost_colour():
    """PSNR misses a grey blob where a red disc was; the judge's colour accuracy does not."""
    from cinediff.evaluation.reconstruction import judged_accuracy

    videos, captions = held_out_set("moving-shapes", 12)
    exact = judged_accuracy(videos, captions)
    assert exact["judge_color"] >= 0.9 and exact["judge_motion"] >= 0.9  # the judge on the clips themselves
    grey = videos.mean(dim=1, keepdim=True).expand_as(videos)  # same luminance, no colour
    assert judged_accuracy(grey, captions)["judge_color"] <= 0.4
    assert psnr(videos, grey).mean() > 20  # ...which PSNR barely notices

    report = reconstruction_report(ShiftedAutoencoder(), sets=("moving-shapes",), num=2)
    assert set(report["moving-shapes"]) >= {"judge_color", "judge_shape", "judge_motion"}
