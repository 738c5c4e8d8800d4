"""FIT (Snap Video backbone): shapes, conditioning, text mask, group locality, positions, self-conditioning."""

import pytest
import torch

from cinediff.backbones.fit import FIT, FITConfig

B, TEXT_DIM = 2, 16


def tiny(**overrides) -> FITConfig:
    kw = dict(dim=32, latent_dim=32, dim_head=16, num_latents=8, frames_per_group=2, num_blocks=1,
              self_attn_layers_per_block=1, text_dim=TEXT_DIM, base_frames=4, base_size=(8, 8))  # fmt: skip
    return FITConfig(**{**kw, **overrides})


def perturbed(model: torch.nn.Module) -> torch.nn.Module:
    """Random offsets on every weight, so that zero-initialised layers carry signal."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def cond(length=5):
    return dict(text=torch.randn(B, length, TEXT_DIM), text_mask=torch.ones(B, length, dtype=torch.bool))


@pytest.mark.parametrize("shape", [(B, 3, 4, 8, 8), (B, 3, 8, 8), (B, 3, 8, 12, 16), (B, 3, 2, 4, 4)])
def test_shapes_and_zero_output_at_init(shape):
    model = FIT(tiny()).eval()
    out = model(torch.randn(shape), torch.randn(B), fps=torch.full((B,), 8.0), **cond())
    assert out.shape == shape
    assert torch.all(out == 0)  # zero-init head
    out = perturbed(model)(torch.randn(shape), torch.randn(B), **cond())
    assert out.shape == shape and out.abs().sum() > 0


def test_cond_frames_and_out_channels():
    model = FIT(tiny(cond_channels=2, out_channels=6)).eval()
    x, frames = torch.randn(B, 3, 4, 8, 8), torch.randn(B, 2, 4, 8, 8)
    assert model(x, torch.randn(B), cond_frames=frames).shape == (B, 6, 4, 8, 8)
    assert model(x[:, :, 0], torch.randn(B), cond_frames=frames[:, :, 0]).shape == (B, 6, 8, 8)
    with pytest.raises(ValueError, match="cond_frames"):
        model(x, torch.randn(B))


def test_output_depends_on_text_c_noise_and_fps():
    model = perturbed(FIT(tiny())).eval()
    x, c_noise, c, fps = torch.randn(B, 3, 4, 8, 8), torch.randn(B), cond(), torch.full((B,), 8.0)
    out = model(x, c_noise, fps=fps, **c)
    assert not torch.allclose(out, model(x, c_noise, fps=fps, **cond()))
    assert not torch.allclose(out, model(x, c_noise + 1, fps=fps, **c))
    assert not torch.allclose(out, model(x, c_noise, fps=fps * 2, **c))


def test_text_mask_hides_padding():
    model = perturbed(FIT(tiny())).eval()
    x, c_noise, c = torch.randn(B, 3, 4, 8, 8), torch.randn(B), cond(6)
    c["text_mask"][:, 3:] = False
    out = model(x, c_noise, **c)
    c["text"][:, 3:] = torch.randn(B, 3, TEXT_DIM) * 10
    torch.testing.assert_close(model(x, c_noise, **c), out)


@pytest.mark.parametrize("layers", [0, 1])
def test_groups_only_mix_through_global_self_attention(layers):
    model = perturbed(FIT(tiny(self_attn_layers_per_block=layers))).eval()
    x, c_noise = torch.randn(B, 3, 4, 8, 8), torch.randn(B)
    y = x.clone()
    y[:, :, :2] = torch.randn(B, 3, 2, 8, 8)  # group 0 = frames 0, 1
    same = torch.allclose(model(x, c_noise)[:, :, 2:], model(y, c_noise)[:, :, 2:])
    assert same == (layers == 0)


def test_positional_embedding_interpolation():
    model = FIT(tiny())
    stored = model.pos_t[:, None, None] + model.pos_h[None, :, None] + model.pos_w[None, None, :]
    torch.testing.assert_close(model.positional_embedding(4, 2, 2), stored)
    resized = model.positional_embedding(7, 5, 3)
    assert resized.shape == (7, 5, 3, 32)
    torch.testing.assert_close(resized[0, 0, 0], stored[0, 0, 0])  # end points kept
    torch.testing.assert_close(resized[-1, -1, -1], stored[-1, -1, -1])


@pytest.mark.parametrize(
    "shape, message",
    [
        ((B, 3, 4, 9, 8), "H=9 is not divisible by patch_size"),
        ((B, 3, 3, 8, 8), "T=3 is not divisible by frames_per_group"),
    ],
)
def test_indivisible_sizes_are_named(shape, message):
    with pytest.raises(ValueError, match=message):
        FIT(tiny())(torch.randn(shape), torch.randn(B))


# Latent self-conditioning.


def count_passes(model: FIT) -> list:
    calls, denoise = [], model.denoise
    model.denoise = lambda *a, **k: calls.append(k.get("prev_latents")) or denoise(*a, **k)
    return calls


def test_prev_latents_zero_equals_none():
    model = FIT(tiny()).eval()
    x, c_noise = torch.randn(B, 3, 4, 8, 8), torch.randn(B)
    zeros = torch.zeros(B, 8, 32)
    torch.testing.assert_close(model(x, c_noise, prev_latents=zeros), model(x, c_noise))
    perturbed(model)  # the projection stays exactly 0 on zeros (no bias), whatever its weights
    torch.testing.assert_close(model(x, c_noise, prev_latents=zeros), model(x, c_noise))
    assert not torch.allclose(model(x, c_noise, prev_latents=torch.randn(B, 8, 32)), model(x, c_noise))


@pytest.mark.parametrize("prob, passes", [(1.0, 2), (0.0, 1)])
def test_training_self_conditioning_passes(prob, passes):
    model = FIT(tiny(self_conditioning_prob=prob)).train()
    calls = count_passes(model)
    model(torch.randn(B, 3, 4, 8, 8), torch.randn(B))
    assert len(calls) == passes
    assert (calls[-1] is not None) == (prob == 1)
    model.eval()(torch.randn(B, 3, 4, 8, 8), torch.randn(B))  # eval, no sampling context: one pure pass
    assert len(calls) == passes + 1 and calls[-1] is None


def test_self_conditioning_is_per_sample():
    model = perturbed(FIT(tiny(self_conditioning_prob=0.5)))
    x, c_noise = torch.randn(8, 3, 4, 8, 8), torch.randn(8)
    prev = model.draw_prev_latents(x, c_noise, generator=torch.Generator().manual_seed(1))
    used = prev.flatten(1).abs().sum(1) > 0
    assert 0 < used.sum() < 8
    torch.testing.assert_close(prev[used], model.denoise(x, c_noise)[1][used])


def test_sampling_context_carries_latents():
    model = perturbed(FIT(tiny())).eval()
    x, c_noise = torch.randn(B, 3, 4, 8, 8), torch.randn(B)
    calls = count_passes(model)
    with model.self_conditioned_sampling():
        first, second = model(x, c_noise), model(x, c_noise)
    assert calls[0] is None and calls[1] is not None
    torch.testing.assert_close(first, model.denoise(x, c_noise)[0])
    torch.testing.assert_close(second, model.denoise(x, c_noise, prev_latents=calls[1])[0])
    model(x, c_noise)  # after the block: pure passes again
    assert model._last_latents is None and calls[-1] is None


def test_gradient_reaches_every_parameter():
    model = perturbed(FIT(tiny(cond_channels=1)))
    x, frames, c_noise = torch.randn(B, 3, 4, 8, 8), torch.randn(B, 1, 4, 8, 8), torch.randn(B)
    out = model(x, c_noise, fps=torch.full((B,), 8.0), cond_frames=frames, prev_latents=torch.randn(B, 8, 32), **cond())
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing


def test_scaled_config_grows_parameters():
    count = lambda c: sum(p.numel() for p in FIT(c).parameters())  # noqa: E731
    base = tiny()
    wide = base.scaled(width=2.0)
    assert (wide.dim, wide.latent_dim) == (64, 64)
    assert 3 < count(wide) / count(base) < 4.5
    assert base.scaled(depth=2.0).num_blocks == 2
