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
    model.eval()(torch.randn(B, 3, 4, 8, 8), torch.randn(B))  # eval: one pure pass
    assert len(calls) == passes + 1 and calls[-1] is None


def test_self_conditioning_is_per_sample():
    model = perturbed(FIT(tiny(self_conditioning_prob=0.5)))
    x, c_noise = torch.randn(8, 3, 4, 8, 8), torch.randn(8)
    prev = model.draw_prev_latents(x, c_noise, generator=torch.Generator().manual_seed(1))
    used = prev.flatten(1).abs().sum(1) > 0
    assert 0 < used.sum() < 8
    torch.testing.assert_close(prev[used], model.denoise(x, c_noise)[1][used])


def self_conditioned_denoiser(prob: float = 0.9):
    from cinediff.diffusion.edm import EDMPrecond

    return EDMPrecond(perturbed(FIT(tiny(self_conditioning_prob=prob))).eval())


def latents_chain(denoiser) -> tuple[list, list]:
    """Records the prev_latents each backbone pass gets and the final latents it returns."""
    given, returned, denoise = [], [], denoiser.backbone.denoise

    def recording(*a, **k):
        given.append(k.get("prev_latents"))
        out, latents = denoise(*a, **k)
        returned.append(latents)
        return out, latents

    denoiser.backbone.denoise = recording
    return given, returned


@pytest.mark.parametrize("sampler, calls", [("heun", 2 * 4 - 1), ("euler", 4), ("dpmpp_2m", 4)])
def test_sampling_feeds_each_call_the_previous_calls_latents(sampler, calls):
    from cinediff.samplers import SelfConditioning, karras_sigmas, sample

    denoiser = self_conditioned_denoiser()
    given, returned = latents_chain(denoiser)
    wrapped = SelfConditioning(denoiser)
    sigmas = karras_sigmas(4, denoiser.sigma_min, denoiser.sigma_max)
    sample(wrapped, (B, 3, 4, 8, 8), sigmas, sampler, generators=[torch.Generator().manual_seed(i) for i in range(B)])
    assert len(given) == calls  # Heun: predictor + corrector per step, the last step Euler
    assert given[0] is None
    for prev, latents in zip(given[1:], returned[:-1], strict=True):  # the corrector reads the predictor's too
        assert prev is not None and torch.equal(prev, latents)


def test_self_conditioned_call_equals_a_pure_pass_with_those_latents():
    from cinediff.samplers import SelfConditioning

    denoiser = self_conditioned_denoiser()
    x, sigma = torch.randn(B, 3, 4, 8, 8), torch.full((B,), 2.0)
    wrapped = SelfConditioning(denoiser)
    first, second = wrapped(x, sigma), wrapped(x, sigma)
    torch.testing.assert_close(first, denoiser(x, sigma))  # the first call: zeros, a plain denoiser call
    _, latents = denoiser.forward_with_latents(x, sigma)
    torch.testing.assert_close(second, denoiser.forward_with_latents(x, sigma, prev_latents=latents)[0])
    assert not torch.allclose(first, second)  # the latents did change the output


def test_guidance_branches_carry_their_own_latents():
    from cinediff.samplers import ClassifierFreeGuidance, SelfConditioning

    denoiser = self_conditioned_denoiser()
    given, _ = latents_chain(denoiser)
    text = cond()
    guided = ClassifierFreeGuidance(SelfConditioning(denoiser), 3.0, {k: torch.zeros_like(v) for k, v in text.items()})
    x, sigma = torch.randn(B, 3, 4, 8, 8), torch.full((B,), 2.0)
    guided(x, sigma, **text), guided(x, sigma, **text)
    assert given[1].shape[0] == 2 * B  # one batch of both branches, latents row for row


def test_generation_self_conditions_only_models_trained_so():
    from cinediff.models.generate import GenerationConfig, generate_videos

    config = GenerationConfig(steps=3, guidance=1.0)
    for prob, uses in [(0.9, True), (0.0, False)]:
        denoiser = self_conditioned_denoiser(prob)
        given, _ = latents_chain(denoiser)
        video = generate_videos(denoiser, None, ["a", "b"], (3, 4, 8, 8), [1, 2], config, disable_progress=True)
        assert (given[-1] is not None) == uses
        again = generate_videos(denoiser, None, ["a", "b"], (3, 4, 8, 8), [1, 2], config, disable_progress=True)
        torch.testing.assert_close(video, again, rtol=0, atol=0)  # no state survives a sampling run


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
