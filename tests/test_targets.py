"""Per-stage training targets of the multi-stage methods (Show-1, CMD) through the one trainer."""

import pytest
import torch

from cinediff.autoencoders import build_autoencoder
from cinediff.training.config import load_config
from cinediff.models.targets import keyframe_condition, lowres_condition, make_target
from cinediff.training.trainer import train


def test_keyframe_condition_places_keyframes_and_mask():
    video = torch.randn(2, 3, 9, 4, 4)
    cond = keyframe_condition(video, stride=4)
    assert cond.shape == (2, 4, 9, 4, 4)
    for t in range(9):
        keep = t % 4 == 0
        assert torch.equal(cond[:, :3, t], video[:, :, t] if keep else torch.zeros_like(video[:, :, t]))
        assert torch.all(cond[:, 3, t] == float(keep))


def test_lowres_condition():
    flat = torch.full((1, 3, 2, 8, 8), 0.3)
    torch.testing.assert_close(lowres_condition(flat, 4), flat)
    video = torch.randn(1, 3, 2, 8, 8)
    low = lowres_condition(video, 4)
    assert low.shape == video.shape and (low - video).abs().mean() > 0.3  # detail is gone
    assert abs(low.mean() - video.mean()) < 1e-5  # area down + bilinear up keep the mean
    with pytest.raises(ValueError, match="not divisible by factor 3"):
        lowres_condition(video, 3)


def test_cmd_targets_need_a_cmd_autoencoder():
    with pytest.raises(ValueError, match="CMD autoencoder"):
        make_target("cmd-motion", torch.zeros(1, 3, 4, 16, 16))
    with pytest.raises(ValueError, match="unknown target"):
        make_target("nope", torch.zeros(1, 3, 4, 16, 16))
    with pytest.raises(ValueError, match="target_args.latent is for target cmd-content"):
        make_target("video", torch.zeros(1, 3, 4, 16, 16), latent_autoencoder=torch.nn.Identity())


UNET = ("model.backbone_args={{block_channels=[16, 32], attention_levels=[false, true], heads=2, norm_groups=8, "
        "in_channels=3, out_channels=3, cond_channels={c}, temporal='attention'}}")
COMMON = ["model.text_encoder=''", "data.args={frames=5, height=16, width=16, length=32}", "data.batch_size=2",
          "train.precision=fp32", "train.steps=1"]


@pytest.mark.parametrize("target,cond_channels", [("keyframes-interpolation", 4), ("super-resolution", 3)])
def test_show1_stages_train(tmp_path, target, cond_channels):
    cfg = load_config(None, [*COMMON, "model.backbone=unet", UNET.format(c=cond_channels), f"model.target='{target}'",
                             "model.target_args={stride=4, factor=4}" if target == "super-resolution" else
                             "model.target_args={stride=4}", f"train.out_dir='{tmp_path}'"])
    run = train(cfg)
    assert (run / "checkpoints" / "step_0000001").is_dir()


def test_cmd_stages_train(tmp_path):
    build_autoencoder("cmd", width=16, depth=1).save_pretrained(tmp_path / "cmd")
    content = load_config(None, [*COMMON, "model.backbone=unet", UNET.format(c=0), "model.target='cmd-content'",
                                 f"model.autoencoder='{tmp_path / 'cmd'}'", f"train.out_dir='{tmp_path / 'content'}'"])
    train(content)
    motion = load_config(None, [*COMMON, "model.backbone=dit", "model.target='cmd-motion'",
                                "model.backbone_args={in_channels=8, out_channels=8, content_channels=3, "
                                "content_patch_size=4, dim=32, depth=1, dim_head=16, time_embed_dim=32}",
                                f"model.autoencoder='{tmp_path / 'cmd'}'", f"train.out_dir='{tmp_path / 'motion'}'"])
    assert (train(motion) / "checkpoints" / "step_0000001").is_dir()
