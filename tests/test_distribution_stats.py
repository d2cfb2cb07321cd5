"""FID and KID statistics (gantool.metrics.distribution) against closed forms and naive references."""
import itertools
import math

import numpy as np
import pytest

from gantool.errors import GantoolError
from gantool.metrics.distribution import (FeatureStats, fid_from_features, fid_from_stats, frechet_distance,
                                          kid_from_features)


def _orthogonal(d, rng):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _random_cov(d, rng, floor=0.1):
    a = rng.standard_normal((d, d))
    return a @ a.T / d + floor * np.eye(d)


# ---- Fréchet distance against closed forms ----

def test_diagonal_covariances_match_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 3, 7), rng.uniform(0.1, 3, 7)
    mu1, mu2 = rng.standard_normal(7), rng.standard_normal(7)
    # For commuting covariances tr sqrt(S1 S2) = sum sqrt(a b), so the trace terms become a sum of squares.
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-12)


def test_commuting_covariances_match_closed_form():
    rng = np.random.default_rng(1)
    q = _orthogonal(10, rng)
    a, b = rng.uniform(0.01, 5, 10), rng.uniform(0.01, 5, 10)
    mu1, mu2 = rng.standard_normal(10), rng.standard_normal(10)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    assert got == pytest.approx(expected, rel=1e-10)


def test_non_commuting_2x2_matches_closed_form():
    s1 = np.array([[2.0, 0.9], [0.9, 1.0]])
    s2 = np.array([[0.5, -0.3], [-0.3, 3.0]])
    assert not np.allclose(s1 @ s2, s2 @ s1)
    mu1, mu2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    # S1 S2 has real eigenvalues l1, l2 >= 0 and (sqrt l1 + sqrt l2)^2 = tr(S1 S2) + 2 sqrt(det S1 det S2).
    tr_sqrt = math.sqrt(np.trace(s1 @ s2) + 2 * math.sqrt(np.linalg.det(s1) * np.linalg.det(s2)))
    # The same via the 2x2 square root sqrt(A) = (A + sqrt(det A) I) / sqrt(tr A + 2 sqrt(det A)).
    root1 = (s1 + math.sqrt(np.linalg.det(s1)) * np.eye(2)) / math.sqrt(
        np.trace(s1) + 2 * math.sqrt(np.linalg.det(s1)))
    assert np.allclose(root1 @ root1, s1)
    m = root1 @ s2 @ root1
    assert math.sqrt(np.trace(m) + 2 * math.sqrt(np.linalg.det(m))) == pytest.approx(tr_sqrt, rel=1e-12)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-12)


def test_non_commuting_low_rank_matches_nuclear_norm():
    # For S1 = A A^T and S2 = B B^T the nonzero eigenvalues of S1 S2 are those of (A^T B)(A^T B)^T,
    # so tr sqrt(S1 S2) is the sum of singular values of A^T B.
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((12, 5)), rng.standard_normal((12, 7))
    s1, s2 = a @ a.T, b @ b.T
    expected = np.trace(s1) + np.trace(s2) - 2 * np.linalg.norm(a.T @ b, "nuc")
    assert frechet_distance(np.zeros(12), s1, np.zeros(12), s2) == pytest.approx(expected, rel=1e-9)


def test_full_rank_matches_general_eigenvalues():
    rng = np.random.default_rng(3)
    s1, s2 = _random_cov(6, rng), _random_cov(6, rng)
    eig = np.linalg.eigvals(s1 @ s2)  # the non-symmetric solver, a different route
    assert np.abs(eig.imag).max() < 1e-10
    expected = np.trace(s1) + np.trace(s2) - 2 * np.sqrt(eig.real).sum()
    assert frechet_distance(np.zeros(6), s1, np.zeros(6), s2) == pytest.approx(expected, rel=1e-10)


def test_identical_distributions_give_zero_and_distance_is_symmetric():
    rng = np.random.default_rng(4)
    mu, s = rng.standard_normal(16), _random_cov(16, rng)
    assert abs(frechet_distance(mu, s, mu, s.copy())) < 1e-10
    mu2, s2 = rng.standard_normal(16), _random_cov(16, rng)
    d12, d21 = frechet_distance(mu, s, mu2, s2), frechet_distance(mu2, s2, mu, s)
    assert d12 > 1
    assert d12 == pytest.approx(d21, rel=1e-12)
    # Only the symmetric part of a covariance counts (float32 round-off makes stored ones slightly asymmetric).
    e = np.triu(rng.standard_normal((16, 16)) * 0.1, 1)
    assert frechet_distance(mu, s + e - e.T, mu2, s2 - e + e.T) == pytest.approx(d12, rel=1e-12)


def test_shape_and_value_errors():
    mu, s = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="one D"):
        frechet_distance(mu, s, np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="one D"):
        frechet_distance(mu, np.eye(2), mu, s)
    bad = s.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="sigma2 has NaN"):
        frechet_distance(mu, s, mu, bad)
    with pytest.raises(ValueError, match="mu1 has NaN or infinite"):
        frechet_distance(np.array([0, np.inf, 0]), s, mu, s)


# ---- numerical edge cases ----

def test_near_singular_covariances():
    rng = np.random.default_rng(5)
    q = _orthogonal(8, rng)
    a = np.array([1e-12, 1e-12, 1e-12, 0.0, 1.0, 2.0, 0.5, 1e-12])
    b = np.array([1e-12, 0.0, 3.0, 1e-12, 1.0, 0.1, 1e-12, 1e-12])
    got = frechet_distance(np.zeros(8), q @ np.diag(a) @ q.T, np.zeros(8), q @ np.diag(b) @ q.T)
    expected = np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert got == pytest.approx(expected, abs=1e-6)


def test_rank_one_covariances_with_non_symmetric_product():
    # S1 = u u^T, S2 = v v^T: S1 S2 = (u . v) u v^T is singular and not symmetric; its one nonzero
    # eigenvalue is (u . v)^2, so tr sqrt(S1 S2) = |u . v| (0 when u is orthogonal to v).
    mu1, mu2 = np.array([0.0, 1.0, 0.0]), np.array([1.0, 1.0, 1.0])
    for u, v in [([1.0, 2.0, 0.0], [-2.0, 1.0, 3.0]), ([1.0, 2.0, 0.0], [0.5, -1.0, 3.0])]:
        u, v = np.array(u), np.array(v)
        s1, s2 = np.outer(u, u), np.outer(v, v)
        got = frechet_distance(mu1, s1, mu2, s2)
        assert isinstance(got, float)
        assert got == pytest.approx(2.0 + u @ u + v @ v - 2 * abs(u @ v), rel=1e-12)


def test_rank_deficient_sample_covariances_give_finite_real_distance():
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((3, 64)), rng.standard_normal((4, 64)) + 0.1
    a, b = FeatureStats.from_features(x), FeatureStats.from_features(y)
    got = frechet_distance(a.mean, a.cov, b.mean, b.cov)
    assert isinstance(got, float) and math.isfinite(got) and got >= 0
    assert np.abs(np.linalg.eigvals(a.cov @ b.cov).imag).max() > 0  # the naive route meets complex values


@pytest.mark.parametrize("n", [2, 3])
def test_tiny_sample_counts_warn_and_stay_finite(n):
    rng = np.random.default_rng(n)
    messages = []
    got = fid_from_features(rng.standard_normal((n, 64)), rng.standard_normal((n + 1, 64)), warn=messages.append)
    assert math.isfinite(got) and got > 0
    assert len(messages) == 1
    assert "biased high" in messages[0] and f"{n} and {n + 1} images" in messages[0] and "64-d" in messages[0]
    assert "\n" not in messages[0]
    assert math.isfinite(fid_from_features(rng.standard_normal((n, 64)), rng.standard_normal((n, 64))))


def test_enough_samples_do_not_warn():
    rng = np.random.default_rng(7)
    messages = []
    fid_from_features(rng.standard_normal((9, 8)), rng.standard_normal((50, 8)), warn=messages.append)
    assert messages == []
    fid_from_features(rng.standard_normal((8, 8)), rng.standard_normal((50, 8)), warn=messages.append)
    assert len(messages) == 1  # 8 images of 8-d features: covariance of rank 7


def test_feature_errors():
    rng = np.random.default_rng(8)
    with pytest.raises(GantoolError, match="at least 2 images per set, got 1"):
        fid_from_features(rng.standard_normal((1, 4)), rng.standard_normal((10, 4)))
    with pytest.raises(GantoolError, match="at least 2 images per set, got 0"):
        FeatureStats.from_features(np.zeros((0, 4)))
    nan = rng.standard_normal((10, 4))
    nan[3, 1] = np.nan
    with pytest.raises(GantoolError, match="NaN"):
        fid_from_features(rng.standard_normal((10, 4)), nan)
    with pytest.raises(GantoolError, match="NaN"):
        kid_from_features(nan, rng.standard_normal((10, 4)))
    with pytest.raises(GantoolError, match="4-d .* 5-d"):
        fid_from_features(rng.standard_normal((10, 4)), rng.standard_normal((10, 5)))
    with pytest.raises(GantoolError, match="4-d and 5-d"):
        fid_from_stats(FeatureStats.from_features(rng.standard_normal((10, 4))),
                       FeatureStats.from_features(rng.standard_normal((10, 5))))
    with pytest.raises(GantoolError, match=r"\(N, D\)"):
        fid_from_features(rng.standard_normal(10), rng.standard_normal((10, 1)))


def test_feature_stats_match_numpy():
    x = np.random.default_rng(9).standard_normal((30, 5)).astype(np.float32)
    stats = FeatureStats.from_features(x)
    assert stats.count == 30 and stats.mean.dtype == np.float64
    assert np.allclose(stats.mean, x.astype(np.float64).mean(0), rtol=0, atol=1e-14)
    assert np.allclose(stats.cov, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-12, atol=1e-14)


# ---- from samples ----

def test_fid_from_samples_approaches_closed_form():
    rng = np.random.default_rng(10)
    d, n = 8, 20000
    mu1, mu2 = np.zeros(d), np.full(d, 0.5)
    s1, s2 = _random_cov(d, rng, 0.5), _random_cov(d, rng, 0.5)
    expected = frechet_distance(mu1, s1, mu2, s2)
    assert expected > 3  # the closed form itself is checked above
    got = fid_from_features(rng.multivariate_normal(mu1, s1, n), rng.multivariate_normal(mu2, s2, n))
    # Covariance entries carry a relative standard error of about sqrt(2 / n) = 1%, the mean
    # difference about sqrt(tr(s1 + s2) / n) per unit; together a relative standard error near 1%
    # for these parameters, so 5% is about 5 sigma, while a wrong term (a missing mean term, a
    # trace of S1 S2 instead of its square root) moves the value by far more.
    assert got == pytest.approx(expected, rel=0.05)


# ---- KID ----

def _mmd2_naive(x, y):
    def k(a, b):
        return (sum(ai * bi for ai, bi in zip(a, b)) / len(a) + 1) ** 3

    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_naive_double_loop():
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((9, 5)), rng.standard_normal((9, 5)) * 1.5 + 0.3
    expected = _mmd2_naive(x.tolist(), y.tolist())
    # A subset as large as the set is the set reordered; the statistic does not depend on the order.
    mean, std = kid_from_features(x, y, num_subsets=1, subset_size=9)
    assert mean == pytest.approx(expected, rel=1e-10)
    assert std == 0
    mean, std = kid_from_features(x, y, num_subsets=5, subset_size=9, seed=3)
    assert mean == pytest.approx(expected, rel=1e-10)
    assert std < 1e-12 * abs(expected)


def test_kid_subset_size_is_lowered_to_the_smaller_set():
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((7, 4)), rng.standard_normal((11, 4)) + 0.5
    mean, _ = kid_from_features(x, y, num_subsets=1, subset_size=1000)
    # Every subset of x is all of x; compare with the 7-element subsets of y drawn independently.
    values = [_mmd2_naive(x.tolist(), y[list(idx)].tolist()) for idx in itertools.combinations(range(11), 7)]
    assert min(values) - 1e-12 <= mean <= max(values) + 1e-12
    assert any(v == pytest.approx(mean, rel=1e-10) for v in values)
    swapped, _ = kid_from_features(y, x, num_subsets=1, subset_size=1000)  # the estimate is symmetric
    assert any(v == pytest.approx(swapped, rel=1e-10) for v in values)
    with pytest.raises(GantoolError, match="at least 2 images"):
        kid_from_features(x[:1], y)
    with pytest.raises(GantoolError, match="subset_size >= 2"):
        kid_from_features(x, y, subset_size=1)


def test_kid_std_is_population_std_of_subset_values():
    rng = np.random.default_rng(13)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)) + 0.2
    pairs = list(itertools.combinations(range(3), 2))
    values = np.array([_mmd2_naive(x[list(i)].tolist(), y[list(j)].tolist()) for i in pairs for j in pairs])
    for seed in range(5):
        mean, std = kid_from_features(x, y, num_subsets=2, subset_size=2, seed=seed)
        # With two subset values v1, v2: mean -+ std are v1 and v2 exactly when std = |v1 - v2| / 2.
        for v in (mean - std, mean + std):
            assert np.min(np.abs(values - v)) < 1e-10 * np.abs(values).max()
    # Many draws sample the 9 subset pairs uniformly: mean and std tend to those over the pairs.
    mean, std = kid_from_features(x, y, num_subsets=4000, subset_size=2, seed=0)
    assert mean == pytest.approx(values.mean(), abs=5 * values.std() / math.sqrt(4000))
    assert std == pytest.approx(values.std(), rel=0.1)


def test_kid_is_near_zero_for_one_distribution_and_grows_with_shift():
    rng = np.random.default_rng(14)
    real, noise = rng.standard_normal((600, 16)), rng.standard_normal((600, 16))
    same, _ = kid_from_features(real, noise, num_subsets=20, subset_size=300)
    shifted = [kid_from_features(real, noise + s, num_subsets=20, subset_size=300)[0] for s in (0.25, 0.5, 1.0)]
    assert shifted[0] < shifted[1] < shifted[2]
    assert abs(same) < 0.05 * shifted[1]


def test_kid_is_deterministic_for_a_seed():
    rng = np.random.default_rng(15)
    x, y = rng.standard_normal((50, 6)), rng.standard_normal((60, 6)) + 0.3
    first = kid_from_features(x, y, num_subsets=10, subset_size=20, seed=7)
    assert kid_from_features(x, y, num_subsets=10, subset_size=20, seed=7) == first
    assert kid_from_features(x, y, num_subsets=10, subset_size=20, seed=8) != first


@pytest.mark.parametrize("n1, n2, d", [(2, 3, 8), (30, 40, 64), (63, 10, 64)])
def test_few_images_route_equals_the_covariance_route(n1, n2, d):
    """With fewer images than dimensions FID is computed from the features (an N1 x N2 SVD), not from D x D
    covariances; both must give the same number."""
    rng = np.random.default_rng(n1 + n2)
    x = rng.normal(size=(n1, d)) @ rng.normal(size=(d, d))
    y = rng.normal(size=(n2, d)) + 0.3
    covariance_route = fid_from_stats(FeatureStats.from_features(x), FeatureStats.from_features(y))
    assert fid_from_features(x, y) == pytest.approx(covariance_route, rel=1e-9)
