"""DiT (CMD motion-latent denoiser): shapes, adaLN-Zero identity at init, content/text/c_noise conditioning."""

import pytest
import torch

from cinediff.backbones.dit import DiT, DiTConfig, grid_positions

B, TEXT_DIM = 2, 16


def tiny(**overrides) -> DiTConfig:
    return DiTConfig(**{**dict(dim=32, depth=2, dim_head=16, text_dim=TEXT_DIM), **overrides})


def perturbed(model: torch.nn.Module) -> torch.nn.Module:
    """Random offsets on every weight, so that zero-initialised layers carry signal."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def cond(length=5):
    return dict(
        text=torch.randn(B, length, TEXT_DIM),
        text_mask=torch.ones(B, length, dtype=torch.bool),
        cond_frames=torch.randn(B, 4, 8, 8),
    )


@pytest.mark.parametrize("shape", [(B, 8, 24), (B, 8, 4, 12)])
def test_output_shape_equals_input_and_starts_at_zero(shape):
    model = DiT(tiny())
    out = model(torch.randn(shape), torch.randn(B), **cond())
    assert out.shape == shape and torch.all(out == 0)
    assert perturbed(model)(torch.randn(shape), torch.randn(B), **cond()).shape == shape


def test_blocks_are_identity_at_init():
    model = DiT(tiny())
    h, text = torch.randn(B, 10, 32), torch.randn(B, 3, 32)
    for block in model.blocks:
        torch.testing.assert_close(block(h, torch.randn(B, 32), text), h)


def test_output_depends_on_content_text_and_c_noise():
    model = perturbed(DiT(tiny())).eval()
    x, c_noise, c = torch.randn(B, 8, 24), torch.randn(B), cond()
    out = model(x, c_noise, **c)
    assert not torch.allclose(out, model(x, c_noise, **{**c, "cond_frames": torch.randn(B, 4, 8, 8)}))
    assert not torch.allclose(out, model(x, c_noise, **{**c, "text": torch.randn(B, 5, TEXT_DIM)}))
    assert not torch.allclose(out, model(x, c_noise + 1, **c))
    assert model(x, c_noise, **{**c, "text": None, "text_mask": None}).isfinite().all()


def test_text_mask_hides_padding_even_all_of_it():
    model = perturbed(DiT(tiny())).eval()
    x, c_noise, c = torch.randn(B, 8, 24), torch.randn(B), cond(6)
    c["text_mask"][0, 2:] = False
    c["text_mask"][1] = False  # an empty prompt: only the null token is attended
    out = model(x, c_noise, **c)
    assert out.isfinite().all()
    c["text"][0, 2:], c["text"][1] = torch.randn(4, TEXT_DIM), torch.randn(6, TEXT_DIM)
    torch.testing.assert_close(model(x, c_noise, **c), out)


def test_content_frame_is_required_and_patch_checked():
    model = DiT(tiny())
    with pytest.raises(ValueError, match="cond_frames"):
        model(torch.randn(B, 8, 24), torch.randn(B))
    with pytest.raises(ValueError, match="content_patch_size"):
        model(torch.randn(B, 8, 24), torch.randn(B), cond_frames=torch.randn(B, 4, 7, 8))
    assert DiT(tiny(content_channels=0))(torch.randn(B, 8, 24), torch.randn(B)).shape == (B, 8, 24)


def test_grid_positions_split_width_over_axes():
    pos = grid_positions((3, 5), 33)
    assert pos.shape == (15, 33)
    assert len(set(map(tuple, pos.tolist()))) == 15  # every cell distinct


def test_gradient_reaches_every_parameter():
    model = perturbed(DiT(tiny()))
    model(torch.randn(B, 8, 24), torch.randn(B), **cond()).square().mean().backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
