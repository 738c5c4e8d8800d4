import math

import pytest
import torch

from cinediff.noise import NoisePrior, noise_prior
from cinediff.runtime import sample_generators

SHAPE = (64, 3, 6, 16, 16)  # (B, C, T, H, W): 49,152 independent values per frame
N = SHAPE[0] * SHAPE[1] * SHAPE[3] * SHAPE[4]


def _frames(noise):
    """(B, C, T, H, W) -> (T, N): one row of independent draws per frame."""
    return noise.permute(2, 0, 1, 3, 4).reshape(noise.shape[2], -1)


@pytest.mark.parametrize("kind,alpha", [("iid", 0.0), ("mixed", 1.0), ("mixed", 3.0), ("progressive", 2.0), ("progressive", 0.5)])
def test_marginals_and_correlation_match_formulas(kind, alpha):
    prior = NoisePrior(kind, alpha)
    frames = _frames(prior(SHAPE, sample_generators(1234, SHAPE[0])))
    # Per-frame mean 0 and variance 1, within 5 standard errors of the estimate.
    assert frames.mean(1).abs().max() < 5 / math.sqrt(N)
    assert (frames.var(1) - 1).abs().max() < 5 * math.sqrt(2 / N)
    corr = torch.corrcoef(frames)
    for i in range(frames.shape[0]):
        for j in range(frames.shape[0]):
            rho = prior.frame_correlation(i, j)
            assert abs(corr[i, j].item() - rho) < 5 * (1 - rho**2) / math.sqrt(N) + 1e-6, (i, j, corr[i, j], rho)


def test_formulas_for_known_values():
    assert NoisePrior("mixed", 1.0).frame_correlation(0, 5) == pytest.approx(0.5)
    assert NoisePrior("progressive", 2.0).frame_correlation(0, 2) == pytest.approx(0.8)
    assert NoisePrior("progressive", 2.0).frame_correlation(3, 4) == pytest.approx(0.8**0.5)


@pytest.mark.parametrize("kind", ["mixed", "progressive"])
def test_alpha_zero_is_iid_bit_for_bit(kind):
    iid = NoisePrior("iid")(SHAPE, sample_generators(7, SHAPE[0]))
    zero = NoisePrior(kind, 0.0)(SHAPE, sample_generators(7, SHAPE[0]))
    assert torch.equal(iid, zero)


@pytest.mark.parametrize("kind", ["iid", "mixed", "progressive"])
def test_same_seed_same_noise_whatever_the_batch(kind):
    prior = noise_prior(kind)
    seeds = [11, 22, 33, 44]
    batch = prior((4, 3, 5, 8, 8), sample_generators(seeds))
    for b, seed in enumerate(seeds):
        alone = prior((1, 3, 5, 8, 8), sample_generators([seed]))
        assert torch.equal(batch[b], alone[0])
    reordered = prior((2, 3, 5, 8, 8), sample_generators([seeds[3], seeds[1]]))
    assert torch.equal(reordered[0], batch[3]) and torch.equal(reordered[1], batch[1])


def test_images_and_errors():
    prior = noise_prior("mixed")
    assert prior((2, 4, 8, 8), sample_generators(0, 2)).shape == (2, 4, 8, 8)
    with pytest.raises(ValueError, match="unknown noise prior"):
        NoisePrior("pink")
    with pytest.raises(ValueError, match="alpha"):
        NoisePrior("mixed", -1.0)
    with pytest.raises(ValueError, match="generators"):
        prior((3, 1, 2, 4, 4), sample_generators(0, 2))
    assert noise_prior("mixed").alpha == 1.0 and noise_prior("progressive").alpha == 2.0
