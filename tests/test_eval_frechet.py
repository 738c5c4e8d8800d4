"""Fréchet distance: scipy's sqrtm formula (the FID/FVD reference) as the oracle, and identities."""

import numpy as np
import pytest
import torch
from scipy import linalg

from cinediff.evaluation.frechet import feature_statistics, frechet_distance, frechet_distance_of_features


def scipy_frechet(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance."""
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean.real)


def features(rng, n, d, scale=1.0, shift=0.0):
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return rng.normal(size=(n, d)) @ mix * scale + shift


def stats(x):
    return np.mean(x, 0), np.atleast_2d(np.cov(x, rowvar=False))


@pytest.mark.parametrize("d", [1, 2, 8, 64])
def test_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    a, b = features(rng, 500, d), features(rng, 400, d, scale=1.5, shift=0.3)
    ours = frechet_distance(*stats(a), *stats(b))
    assert ours == pytest.approx(scipy_frechet(*stats(a), *stats(b)), rel=1e-9, abs=1e-9)


def test_rank_deficient_matches_scipy():
    # N < D: both covariances are singular (rank N - 1). sqrtm of a singular matrix, and
    # sqrt of its ~1e-16 eigenvalues, are accurate only to ~sqrt(machine eps) = 1e-8 each.
    rng = np.random.default_rng(0)
    a, b = features(rng, 20, 64), features(rng, 30, 64, shift=0.1)
    (m1, s1), (m2, s2) = stats(a), stats(b)
    ours = frechet_distance(m1, s1, m2, s2)
    assert ours == pytest.approx(scipy_frechet(m1, s1, m2, s2), rel=1e-5)
    tr = np.sqrt(np.clip(linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    exact = (m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2 * tr
    assert ours == pytest.approx(exact, rel=1e-7)


def test_statistics_match_numpy_in_float64():
    x = torch.randn(50, 7)
    mu, sigma = feature_statistics(x)
    assert mu.dtype == sigma.dtype == torch.float64
    np.testing.assert_allclose(mu.numpy(), x.double().numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(sigma.numpy(), np.cov(x.double().numpy(), rowvar=False), rtol=1e-12)
    assert feature_statistics(torch.randn(5, 1))[1].shape == (1, 1)


def test_identities():
    rng = np.random.default_rng(1)
    a, b = features(rng, 300, 16), features(rng, 300, 16, scale=0.7)
    sa, sb = stats(a), stats(b)
    assert abs(frechet_distance(*sa, *sa)) < 1e-9
    assert frechet_distance(*sa, *sb) == pytest.approx(frechet_distance(*sb, *sa), rel=1e-10)
    v = rng.normal(size=16)
    assert frechet_distance(sa[0] + v, sa[1], *sa) == pytest.approx(v @ v, rel=1e-9)
    assert frechet_distance_of_features(a, a + v) == pytest.approx(v @ v, rel=1e-9)
    assert frechet_distance(*sa, *sb) > 0.1


def test_bad_input():
    with pytest.raises(ValueError, match="N >= 2"):
        feature_statistics(torch.randn(1, 4))
    mu, sigma = feature_statistics(torch.randn(10, 3))
    with pytest.raises(ValueError, match="shape"):
        frechet_distance(mu, sigma, mu[:2], sigma[:2, :2])
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(mu * float("nan"), sigma, mu, sigma)
