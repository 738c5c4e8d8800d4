"""CMD autoencoder: content weights, static clips, motion-latent size, shapes, gradients, a quick fit."""

import time

import pytest
import torch
from torch import nn

from cinediff.autoencoders.cmd import CMDAutoencoder, CMDConfig
from cinediff.autoencoders.vae import FrameVAE, VAEConfig

TINY = dict(width=8, depth=1, norm_groups=4)


def tiny_cmd(factor=2, randomise_weights=True, **kw):
    """A tiny CMD AE; the (zero-initialised) content-logit head randomised so weights are far from uniform."""
    model = CMDAutoencoder(CMDConfig(factor=factor, **{**TINY, **kw}))
    if randomise_weights:
        nn.init.normal_(model.to_logits.weight, std=2.0)
        for attention in model.mid_attention:  # zero-initialised outputs too
            nn.init.normal_(attention.attn.to_out[0].weight, std=0.1)
    return model.eval()


def video(b=2, t=5, h=16, w=16, c=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, t, h, w, generator=g) * 2 - 1


def moving_squares(n=4, t=6, size=16, seed=0):
    """Half static, half moving 4×4 coloured squares on black: (n, 3, t, size, size)."""
    g = torch.Generator().manual_seed(seed)
    clips = torch.full((n, 3, t, size, size), -1.0)
    for i in range(n):
        colour = torch.rand(3, 1, 1, generator=g) * 2 - 1
        x0, y0 = torch.randint(0, size - 4, (2,), generator=g).tolist()
        for f in range(t):
            x = (x0 + (i % 2) * f) % (size - 4)  # odd clips move one pixel per frame
            clips[i, :, f, y0 : y0 + 4, x : x + 4] = colour
    return clips


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_content_weights_are_a_softmax_over_time(factor):
    model = tiny_cmd(factor)
    with torch.no_grad():
        weights = model.content_weights(video())
    assert weights.shape == (2, 3, 5, 16, 16) and (weights >= 0).all()
    torch.testing.assert_close(weights.sum(dim=2), torch.ones(2, 3, 16, 16), atol=1e-6, rtol=0)
    assert weights.std() > 0.05  # really per-pixel weights, not uniform


def test_static_clip_content_frame_is_the_frame():
    model = tiny_cmd(2)
    frame = video(2, 1)
    clip = frame.expand(-1, -1, 7, -1, -1)
    with torch.no_grad():
        content, _ = model.encode(clip)
    torch.testing.assert_close(content, frame[:, :, 0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("factor", [1, 2, 4])
def test_encode_decode_shapes_and_layout(factor):
    model = tiny_cmd(factor)
    x = video(2, 5, 16, 24)
    with torch.no_grad():
        content, motion = model.encode(x)
        assert content.shape == (2, 3, 16, 24)
        assert motion.shape == (2, 8, 5, (16 + 24) // factor)  # (B, D, T, H′ + W′)
        assert motion.abs().max() < 1  # tanh
        assert motion[0].numel() == model.motion_latent_size(5, 16, 24)
        assert model.decode(content, motion).shape == x.shape
        assert model.reconstruct(x).shape == x.shape
    assert (model.spatial_factor, model.temporal_factor, model.latent_channels) == (factor, 1, 8)


def test_runs_on_vae_latents():
    model = tiny_cmd(2, in_channels=4)
    latents = torch.randn(1, 4, 4, 8, 8)
    with torch.no_grad():
        content, motion = model.encode(latents)
        assert content.shape == (1, 4, 8, 8) and motion.shape == (1, 8, 4, 8)
        assert model.decode(content, motion).shape == latents.shape


def motion_vs_vae_ratio(cmd: CMDAutoencoder, frames, height, width, cmd_input_factor=1):
    """Frame-VAE latent numbers (factor 8, 4 channels) / CMD motion-latent numbers for one T×H×W clip."""
    vae = FrameVAE(VAEConfig(block_channels=(4, 4, 4, 4), norm_groups=4))  # only its factor matters
    c, t, h, w = vae.latent_shape(frames, height, width)
    s = cmd_input_factor  # 8 when CMD runs on the frame VAE's latents
    return c * t * h * w / cmd.motion_latent_size(frames, height // s, width // s)


def test_motion_latent_is_much_smaller_than_the_vae_latent():
    ratios = {
        ("pixels", 4): lambda T, H, W: motion_vs_vae_ratio(CMDAutoencoder(CMDConfig(factor=4, **TINY)), T, H, W),
        ("pixels", 16): lambda T, H, W: motion_vs_vae_ratio(CMDAutoencoder(CMDConfig(factor=16, **TINY)), T, H, W),
        ("vae-latents", 2): lambda T, H, W: motion_vs_vae_ratio(
            CMDAutoencoder(CMDConfig(in_channels=4, factor=2, **TINY)), T, H, W, cmd_input_factor=8
        ),
    }
    for (space, factor), ratio in ratios.items():
        print(f"CMD on {space}, factor {factor}, D=8: VAE/motion = "
              f"{ratio(16, 64, 64):.1f}x at 16x64x64, {ratio(16, 256, 256):.1f}x at 16x256x256")
    # Total stride 16 (the paper's setup: SD latents, patch 2): ≥ 10× at 256², and growing linearly with size.
    assert ratios["vae-latents", 2](16, 256, 256) >= 10 and ratios["pixels", 16](16, 256, 256) >= 10
    assert ratios["vae-latents", 2](16, 512, 1024) >= 20
    # At 64×64 the motion latent (linear in H + W) cannot be 10× below the VAE latent (quadratic in H·W).
    assert ratios["vae-latents", 2](16, 64, 64) == pytest.approx(4.0)
    # The actual tensor has the stated size.
    model = tiny_cmd(4)
    with torch.no_grad():
        assert model.encode(video(1, 16, 64, 64))[1].numel() == model.motion_latent_size(16, 64, 64) == 4096


def test_bad_sizes_raise():
    model = tiny_cmd(4)
    with pytest.raises(ValueError, match="spatial factor 4.*18x16"):
        model.encode(video(1, 2, 18, 16))
    content, motion = model.encode(video(1, 2, 16, 16))
    with pytest.raises(ValueError, match="motion has 8 positions"):
        model.decode(torch.zeros(1, 3, 32, 32), motion)
    with pytest.raises(ValueError, match="power of 2"):
        CMDAutoencoder(CMDConfig(factor=3))


def test_gradients_reach_every_parameter():
    model = tiny_cmd(2).train()
    loss, logs = model.training_loss(video(2, 4))
    assert loss.ndim == 0 and set(logs) == {"loss", "rec"}
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.isfinite().all(), name
        assert p.grad.abs().sum() > 0, name


def test_save_load_round_trip(tmp_path):
    model = tiny_cmd(2)
    model.scaling_factor = 2.0
    model.save_pretrained(tmp_path)
    loaded = CMDAutoencoder.from_pretrained(tmp_path).eval()
    assert loaded.config == model.config
    x = video(1, 3)
    with torch.no_grad():
        for a, b in zip(loaded.encode(x), model.encode(x)):
            torch.testing.assert_close(a, b, atol=0, rtol=0)
    with pytest.raises(ValueError, match="holds a 'CMDAutoencoder', not a FrameVAE"):
        FrameVAE.from_pretrained(tmp_path)


def test_quick_training_reduces_the_loss():
    torch.manual_seed(0)
    model = CMDAutoencoder(CMDConfig(factor=2, width=16, depth=1, norm_groups=4, content_weight=0.01))
    clips = moving_squares()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    start, losses = time.perf_counter(), []
    for _ in range(50):
        loss, logs = model.training_loss(clips)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(logs["rec"].item())
    print(f"CMD quick fit: rec L1 {losses[0]:.3f} -> {losses[-1]:.3f} in {time.perf_counter() - start:.1f}s")
    assert losses[-1] < 0.4 * losses[0]
