"""The statistics behind FID and KID, computed from feature arrays (no networks, no images).

FID (Heusel et al. 2017) is the Fréchet distance between Gaussians fitted to two sets of features;
KID (Binkowski et al. 2018) is an unbiased estimate of the squared MMD with a cubic polynomial
kernel, averaged over random subsets. Everything is numpy float64 and needs no scipy: the matrix
square root goes through symmetric eigendecompositions, which stay real where ``sqrtm(S1 @ S2)``
of a singular, non-symmetric product turns complex or NaN.
"""
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import numpy as np

from ..errors import GantoolError


@dataclass
class FeatureStats:
    """Mean and covariance of one set of features, all FID needs to know about the set.

    Attributes:
        mean: (D,) feature mean.
        cov: (D, D) covariance with the N - 1 denominator, as ``np.cov(features, rowvar=False)``.
        count: N, the number of feature vectors (images) behind the estimate.
    """

    mean: np.ndarray
    cov: np.ndarray
    count: int

    @classmethod
    def from_features(cls, features: np.ndarray) -> "FeatureStats":
        """Statistics of (N, D) features, N >= 2 (one image has no covariance)."""
        x = _as_features(features, "features")
        if len(x) < 2:
            raise GantoolError(f"FID needs at least 2 images per set, got {len(x)}")
        mean = x.mean(axis=0)
        centred = x - mean
        cov = centred.T @ centred / (len(x) - 1)
        return cls(mean=mean, cov=cov, count=len(x))


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``||mu1 - mu2||^2 + tr(sigma1) + tr(sigma2) - 2 tr(sqrtm(sigma1 @ sigma2))``, with the last trace
    taken as the sum of square roots of the eigenvalues of ``sqrt(sigma1) @ sigma2 @ sqrt(sigma1)``:
    that matrix is symmetric positive semi-definite and similar to ``sigma1 @ sigma2``, so the result is
    real and finite even for singular covariances. Eigenvalues within round-off of 0 count as 0.

    Args:
        mu1, mu2: (D,) means.
        sigma1, sigma2: (D, D) covariances, symmetric positive semi-definite (symmetrised here).
    Returns:
        The distance, >= 0.
    Raises:
        ValueError: shapes that do not fit one D, or NaN / infinite entries.
    """
    arrays = {name: np.asarray(a, dtype=np.float64) for name, a in
              (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2))}
    m1, s1, m2, s2 = arrays.values()
    d = m1.shape[0] if m1.ndim == 1 else -1
    if m2.shape != (d,) or s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"frechet_distance needs means (D,) and covariances (D, D) of one D, got mu1 "
                         f"{m1.shape}, sigma1 {s1.shape}, mu2 {m2.shape}, sigma2 {s2.shape}")
    for name, a in arrays.items():
        if not np.isfinite(a).all():
            raise ValueError(f"frechet_distance: {name} has NaN or infinite entries")
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    m = root1 @ s2 @ root1
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    # Eigenvalues within round-off of 0 (the rank tolerance of np.linalg.matrix_rank) count as 0:
    # each would add sqrt(round-off), ~1e-8 of the scale, and singular covariances have thousands.
    tol = max(eig.max(initial=0.0), 0.0) * d * np.finfo(np.float64).eps
    tr_sqrt = np.sqrt(eig[eig > tol]).sum()
    diff = m1 - m2
    dist = diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    return max(float(dist), 0.0)  # equal distributions can come out as -1e-15


def fid_from_stats(a: FeatureStats, b: FeatureStats, warn: Optional[Callable[[str], None]] = None) -> float:
    """FID between two feature sets given by their statistics.

    Args:
        a, b: statistics of the real and the generated features, of one feature size D.
        warn: called with a one-line message when either set has at most D images: its covariance is
            then singular and FID comes out biased high (the number is still returned).
    """
    d, d_b = a.mean.shape[0], b.mean.shape[0]
    if d != d_b:
        raise GantoolError(f"FID compares features of one size, got {d}-d and {d_b}-d")
    if warn is not None and min(a.count, b.count) < d + 1:
        warn(f"FID from {a.count} and {b.count} images of {d}-d features is biased high "
             f"(covariance of rank < {d}); published figures use 10,000 or more")
    return frechet_distance(a.mean, a.cov, b.mean, b.cov)


def fid_from_features(real: np.ndarray, fake: np.ndarray,
                      warn: Optional[Callable[[str], None]] = None) -> float:
    """FID between (N1, D) real and (N2, D) generated features; ``warn`` as in ``fid_from_stats``."""
    x, y = _as_features(real, "real features"), _as_features(fake, "fake features")
    _check_same_dim(x, y, "FID")
    if max(len(x), len(y)) >= x.shape[1]:
        return fid_from_stats(FeatureStats.from_features(x), FeatureStats.from_features(y), warn=warn)
    if min(len(x), len(y)) < 2:
        raise GantoolError(f"FID needs at least 2 images per set, got {min(len(x), len(y))}")
    if warn is not None:
        warn(f"FID from {len(x)} and {len(y)} images of {x.shape[1]}-d features is biased high "
             f"(covariance of rank < {x.shape[1]}); published figures use 10,000 or more")
    return _frechet_of_few(x, y)


def _frechet_of_few(x: np.ndarray, y: np.ndarray) -> float:
    """The Fréchet distance of (N1, D) and (N2, D) features with N1, N2 < D, without any D x D matrix.

    With centred, scaled features ``A = (x - mean) / sqrt(N1 - 1)`` (so sigma1 = A^T A) and ``B`` likewise,
    ``sigma1 @ sigma2 = A^T (A B^T) B`` has the nonzero eigenvalues of ``(A B^T)(A B^T)^T``, so
    ``tr sqrtm(sigma1 @ sigma2)`` is the sum of the singular values of the small (N1, N2) matrix ``A B^T``
    and the traces are squared Frobenius norms: O(D N1 N2) instead of O(D^3).
    """
    a = (x - x.mean(0)) / np.sqrt(len(x) - 1)
    b = (y - y.mean(0)) / np.sqrt(len(y) - 1)
    tr_sqrt = np.linalg.svd(a @ b.T, compute_uv=False).sum()
    diff = x.mean(0) - y.mean(0)
    return max(float(diff @ diff + (a * a).sum() + (b * b).sum() - 2 * tr_sqrt), 0.0)


def kid_from_features(real: np.ndarray, fake: np.ndarray, num_subsets: int = 100, subset_size: int = 1000,
                      seed: int = 0) -> Tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018) between two feature sets.

    For each of ``num_subsets`` rounds, ``subset_size`` vectors are drawn without replacement from
    each set and the unbiased MMD^2 estimate with kernel ``k(x, y) = (x . y / D + 1) ** 3`` is taken:
    the mean of the off-diagonal real-real and fake-fake kernel values minus twice the mean real-fake
    value. Being unbiased, it can come out slightly below 0 for equal distributions.

    Args:
        real: (N1, D) features of real images.
        fake: (N2, D) features of generated images.
        num_subsets: number of subset pairs averaged.
        subset_size: images per subset, lowered to ``min(subset_size, N1, N2)``.
        seed: seed of ``np.random.default_rng``; equal seeds give equal results.
    Returns:
        (mean, std) of the per-subset estimates (std with the 1/num_subsets denominator).
    """
    x, y = _as_features(real, "real features"), _as_features(fake, "fake features")
    _check_same_dim(x, y, "KID")
    if min(len(x), len(y)) < 2:
        raise GantoolError(f"KID needs at least 2 images per set, got {len(x)} and {len(y)}")
    if subset_size < 2 or num_subsets < 1:
        raise GantoolError(f"KID needs subset_size >= 2 and num_subsets >= 1, got {subset_size} and "
                           f"{num_subsets}")
    n = min(subset_size, len(x), len(y))
    if n == len(x) == len(y):
        # Every "subset" is then the whole of both sets, and the estimate does not depend on the order.
        return _mmd2_unbiased(x, y), 0.0
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets)
    for i in range(num_subsets):
        xs = x[rng.choice(len(x), n, replace=False)]
        ys = y[rng.choice(len(y), n, replace=False)]
        values[i] = _mmd2_unbiased(xs, ys)
    return float(values.mean()), float(values.std())


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two (n, D) samples under the cubic polynomial kernel."""
    n, d = x.shape
    # x @ x.T (same buffer, transposed) lets BLAS use the symmetric product, half the work.
    k_xx = (x @ x.T / d + 1) ** 3
    k_yy = (y @ y.T / d + 1) ** 3
    k_xy = (x @ y.T / d + 1) ** 3
    off_diagonal = n * (n - 1)
    return float((k_xx.sum() - np.trace(k_xx)) / off_diagonal + (k_yy.sum() - np.trace(k_yy)) / off_diagonal
                 - 2 * k_xy.mean())


def _as_features(features: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise GantoolError(f"{name} must be an (N, D) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise GantoolError(f"{name} contain NaN or infinite values")
    return x


def _check_same_dim(x: np.ndarray, y: np.ndarray, metric: str) -> None:
    if x.shape[1] != y.shape[1]:
        raise GantoolError(f"{metric} compares features of one size, got {x.shape[1]}-d real and "
                           f"{y.shape[1]}-d fake")
