"""Fréchet distance between two Gaussians fitted to features (FID, FVD).

    d² = |mu1 - mu2|² + tr(S1) + tr(S2) - 2 tr((S1 S2)^½)        (Heusel et al. 2017, eq. 6)

The reference implementations (pytorch-fid, the FVD code) take ``scipy.linalg.sqrtm`` of
the non-symmetric product S1 S2. scipy is not a runtime dependency here, and only the trace
is needed: S1 S2 = A (A S2) with A = S1^½ has the eigenvalues of A S2 A, which is symmetric
positive semi-definite, so tr((S1 S2)^½) = Σ sqrt(eig(A S2 A)), two symmetric ``eigh`` calls
in float64. Nothing is inverted, so rank-deficient covariances (fewer samples than feature
dimensions) are fine; as in pytorch-fid, ``eps`` I is added to both covariances only when the
decomposition fails.
"""

from __future__ import annotations

import numpy as np
import torch


def _as_float64(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x).detach().cpu().double()


def feature_statistics(features) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (D,) and unbiased covariance (D, D), float64, of ``features`` (N, D), N >= 2."""
    x = _as_float64(features)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"features must be (N, D) with N >= 2, got shape {tuple(x.shape)}")
    return x.mean(0), torch.cov(x.T).reshape(x.shape[1], x.shape[1])  # same as np.cov(x, rowvar=False)


def _sqrt_psd(sigma: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a PSD matrix; tiny negative eigenvalues (round-off) clamped to 0."""
    w, v = torch.linalg.eigh((sigma + sigma.T) / 2)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def trace_sqrt_product(sigma1: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    """tr((S1 S2)^½) = Σ sqrt(eig(S1^½ S2 S1^½)) for PSD S1, S2."""
    a = _sqrt_psd(sigma1)
    m = a @ sigma2 @ a
    return torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (float64 maths)."""
    mu1, mu2, sigma1, sigma2 = (_as_float64(a) for a in (mu1, mu2, sigma1, sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (*mu1.shape, *mu1.shape):
        raise ValueError(f"shape mismatch: mu {tuple(mu1.shape)}, {tuple(mu2.shape)}; "
                         f"sigma {tuple(sigma1.shape)}, {tuple(sigma2.shape)}")
    if not all(torch.isfinite(a).all() for a in (mu1, mu2, sigma1, sigma2)):
        raise ValueError("statistics contain NaN or inf")
    try:
        tr_covmean = trace_sqrt_product(sigma1, sigma2)
    except torch.linalg.LinAlgError:  # eigh did not converge: regularise, as pytorch-fid does
        offset = eps * torch.eye(len(mu1), dtype=torch.float64)
        tr_covmean = trace_sqrt_product(sigma1 + offset, sigma2 + offset)
    diff = mu1 - mu2
    return float(diff @ diff + sigma1.trace() + sigma2.trace() - 2 * tr_covmean)


def frechet_distance_of_features(features1, features2) -> float:
    """Fréchet distance between the Gaussians fitted to two feature sets (N1, D) and (N2, D)."""
    return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))
