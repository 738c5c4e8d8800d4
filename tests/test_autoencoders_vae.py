"""Frame VAE: diffusers AutoencoderKL as the oracle, chunking, factors, checkpoints, scaling factor."""

import pytest
import torch
from einops import rearrange
from safetensors.torch import load_file, save_file

from cinediff.autoencoders.vae import FrameVAE, VAEConfig, estimate_scaling_factor, gradient_loss

TINY = VAEConfig(block_channels=(8, 16, 16), layers_per_block=1, norm_groups=4)  # spatial factor 4


def diffusers_vae(channels, layers):
    from diffusers import AutoencoderKL

    blocks = len(channels)
    return AutoencoderKL(
        block_out_channels=channels,
        down_block_types=("DownEncoderBlock2D",) * blocks,
        up_block_types=("UpDecoderBlock2D",) * blocks,
        layers_per_block=layers,
        latent_channels=4,
        norm_num_groups=4,
    ).eval()


def video(b=2, t=3, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, t, h, w, generator=g) * 2 - 1


@pytest.mark.parametrize("channels,layers", [((8, 16, 16), 1), ((8, 16, 16, 32), 2)])
def test_matches_diffusers_encode_and_decode(tmp_path, channels, layers):
    ref = diffusers_vae(channels, layers)
    ref.save_pretrained(tmp_path)
    vae = FrameVAE.from_diffusers(tmp_path).eval()
    assert vae.spatial_factor == 2 ** (len(channels) - 1) and vae.scaling_factor == pytest.approx(0.18215)
    x = video()
    frames = rearrange(x, "b c t h w -> (b t) c h w")
    with torch.no_grad():
        mean = ref.encode(frames).latent_dist.mean  # (B·T, 4, h, w)
        z = vae.encode(x)  # (B, 4, T, h, w), scaled
        enc_err = (rearrange(z, "b c t h w -> (b t) c h w") / vae.scaling_factor - mean).abs().max().item()
        decoded = ref.decode(mean).sample
        dec_err = (rearrange(vae.decode(z), "b c t h w -> (b t) c h w") - decoded).abs().max().item()
    scale = decoded.abs().max().item()
    print(f"oracle {channels}: encode mean max err {enc_err:.2e}, decode max err {dec_err:.2e} (|out| max {scale:.1f})")
    assert enc_err < 1e-5
    assert dec_err < 1e-5 * max(1.0, scale)


def test_legacy_attention_names_and_pipeline_folder_load(tmp_path):
    diffusers_vae((8, 16, 16), 1).save_pretrained(tmp_path / "vae")  # as in a pipeline folder
    expected = FrameVAE.from_diffusers(tmp_path).eval()
    file = tmp_path / "vae" / "diffusion_pytorch_model.safetensors"
    old = {".to_q.": ".query.", ".to_k.": ".key.", ".to_v.": ".value.", ".to_out.0.": ".proj_attn."}
    state = load_file(file)
    for new, legacy in old.items():
        state = {k.replace(new, legacy): v for k, v in state.items()}
    save_file(state, file)
    x = video(1, 2)
    torch.testing.assert_close(FrameVAE.from_diffusers(tmp_path).eval().encode(x), expected.encode(x))


def test_chunked_equals_unchunked():
    vae = FrameVAE(TINY).eval()
    x = video(2, 5)
    with torch.no_grad():
        vae.config.chunk_size = 100
        z_full, x_full = vae.encode(x), vae.decode(vae.encode(x))
        vae.config.chunk_size = 2
        z_chunk, x_chunk = vae.encode(x), vae.decode(z_full)
    torch.testing.assert_close(z_chunk, z_full, atol=1e-6, rtol=0)
    torch.testing.assert_close(x_chunk, x_full, atol=1e-6, rtol=0)


def test_factors_and_latent_shapes():
    vae = FrameVAE(TINY).eval()
    assert (vae.spatial_factor, vae.temporal_factor, vae.latent_channels) == (4, 1, 4)
    assert FrameVAE(VAEConfig(block_channels=(8, 8, 8, 8), layers_per_block=1, norm_groups=4)).spatial_factor == 8
    x = video(2, 3, 16, 24)
    with torch.no_grad():
        z = vae.encode(x)
        assert z.shape == (2, 4, *vae.latent_shape(3, 16, 24)[1:]) == (2, 4, 3, 4, 6)
        assert vae.decode(z).shape == x.shape
        image = x[:, :, 0]
        assert vae.encode(image).shape == (2, 4, 4, 6) and vae.reconstruct(image).shape == image.shape


def test_sampling_uses_the_generator():
    vae = FrameVAE(TINY).eval()
    x = video(1, 2)
    with torch.no_grad():
        a = vae.encode(x, sample=True, generator=torch.Generator().manual_seed(1))
        b = vae.encode(x, sample=True, generator=torch.Generator().manual_seed(1))
        mean = vae.encode(x)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, mean)


def test_non_divisible_size_names_the_factor():
    vae = FrameVAE(TINY)
    with pytest.raises(ValueError, match="spatial factor 4.*30x32"):
        vae.encode(video(1, 1, 30, 32))


def test_save_load_round_trip(tmp_path):
    vae = FrameVAE(TINY).eval()
    vae.scaling_factor = 0.5
    vae.save_pretrained(tmp_path / "ckpt")
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "model.safetensors"]
    loaded = FrameVAE.from_pretrained(tmp_path / "ckpt").eval()
    assert loaded.config == vae.config and loaded.scaling_factor == 0.5
    x = video(1, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(x), vae.encode(x), atol=0, rtol=0)


def test_missing_or_corrupt_checkpoint_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        FrameVAE.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        FrameVAE.from_diffusers(tmp_path)
    (tmp_path / "config.json").write_text('{"_class_name": "AutoencoderKLTemporalDecoder"}')
    with pytest.raises(ValueError, match="not a plain AutoencoderKL"):
        FrameVAE.from_diffusers(tmp_path)
    FrameVAE(TINY).save_pretrained(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="corrupt or not safetensors"):
        FrameVAE.from_pretrained(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FrameVAE.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{ truncated")
    with pytest.raises(ValueError, match="corrupt checkpoint config"):
        FrameVAE.from_pretrained(tmp_path)


def test_estimate_scaling_factor_gives_unit_std_latents():
    vae = FrameVAE(TINY).eval()
    data = [video(2, 2, seed=s) for s in range(3)]
    scale = estimate_scaling_factor(vae, data)
    vae.scaling_factor = scale
    with torch.no_grad():
        latents = torch.cat([vae.encode(v).flatten() for v in data])
    assert latents.std(unbiased=False).item() == pytest.approx(1.0, abs=1e-4)
    assert estimate_scaling_factor(vae, torch.cat(data)) == pytest.approx(scale, rel=1e-5)


def test_training_loss_backward():
    vae = FrameVAE(VAEConfig(**{**TINY.__dict__, "gradient_weight": 0.1, "loss": "l2"}))
    loss, logs = vae.training_loss(video(1, 2), generator=torch.Generator().manual_seed(0))
    assert loss.ndim == 0 and set(logs) == {"loss", "rec", "kl", "grad"}
    loss.backward()
    assert all(p.grad is not None and p.grad.isfinite().all() for p in vae.parameters())
    x = video(1, 2)
    assert gradient_loss(x, x).item() == 0.0
