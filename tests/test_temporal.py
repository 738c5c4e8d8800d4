"""Temporal mixers: exact Latent-Shift index semantics, T = 1 identity, zero-initialised temporal attention."""

import pytest
import torch
from einops import rearrange

from cinediff.backbones.temporal import TemporalAttention, make_temporal_mixer, temporal_shift


def shift_loop(x: torch.Tensor, fold_div: int) -> torch.Tensor:
    """Reference: METHODS.md §2 written as a loop over (b, t, c). x: (B, T, C, H, W)."""
    b_, t_, c_ = x.shape[:3]
    fold = c_ // fold_div
    out = torch.zeros_like(x)
    for b in range(b_):
        for t in range(t_):
            for c in range(c_):
                if c < fold:
                    source = t + 1  # frame t takes frame t+1
                elif c < 2 * fold:
                    source = t - 1  # frame t takes frame t-1
                else:
                    source = t
                if 0 <= source < t_:
                    out[b, t, c] = x[b, source, c]
    return out


@pytest.mark.parametrize("frames", [2, 3, 5])
@pytest.mark.parametrize("channels, fold_div", [(16, 8), (16, 4), (12, 3), (10, 8)])
def test_shift_matches_loop(frames, channels, fold_div):
    x = torch.randn(2, frames, channels, 3, 2)
    got = temporal_shift(rearrange(x, "b t c h w -> (b t) c h w"), frames, fold_div)
    got = rearrange(got, "(b t) c h w -> b t c h w", t=frames)
    assert torch.equal(got, shift_loop(x, fold_div))


def test_shift_zero_ends_and_single_frame():
    x = torch.randn(1, 4, 16, 2, 2) + 5.0  # no zeros in the input
    out = rearrange(temporal_shift(rearrange(x, "b t c h w -> (b t) c h w"), 4), "(b t) c h w -> b t c h w", t=4)
    assert torch.all(out[:, -1, :2] == 0) and torch.all(out[:, 0, 2:4] == 0)
    assert torch.all(out[:, :-1, :2] != 0) and torch.all(out[:, 1:, 2:4] != 0)
    single = torch.randn(3, 16, 2, 2)
    assert temporal_shift(single, 1) is single


def test_mixer_kinds():
    assert not list(make_temporal_mixer("none", 16).parameters())
    assert not list(make_temporal_mixer("shift", 16).parameters())
    with pytest.raises(ValueError, match="temporal must be one of"):
        make_temporal_mixer("conv", 16)


def test_temporal_attention_zero_init_and_mixing():
    mixer = TemporalAttention(16, norm_groups=4, head_dim=8)
    x = torch.randn(2 * 3, 16, 4, 4)
    assert torch.equal(mixer.output(x, 3), x)  # zero-initialised outputs
    with torch.no_grad():
        for p in mixer.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    assert torch.equal(mixer.output(x[:2], 1), x[:2])  # skipped for a single frame
    out = mixer.output(x, 3)
    changed = x.clone()
    changed[2] += 1.0  # perturb the last frame of the first clip
    delta = (mixer.output(changed, 3) - out).flatten(1).abs().amax(1)
    assert torch.all(delta[:3] > 0) and torch.all(delta[3:] == 0)  # frames of that clip talk, other clip untouched
    out.sum().backward()
    assert all(p.grad is not None for p in mixer.parameters())
