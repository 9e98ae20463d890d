"""Tests for vaegan_tf.sample_metrics (pure NumPy, fast)."""

import numpy as np
import pytest

from vaegan_tf.sample_metrics import (
    class_accuracy,
    frechet_distance,
    frechet_distance_from_statistics,
    gaussian_statistics,
    inception_score,
    kernel_inception_distance,
    laplacian_variance,
    mean_pairwise_distance,
    sharpness_ratio,
)


def _closed_form_diag(mu1, s1, mu2, s2):
    """Frechet distance of Gaussians with diagonal covariances s1, s2."""
    return float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2))


def _random_orthogonal(rng, dim):
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)))
    return q * np.sign(np.diag(r))


# --------------------------------------------------------------------------
# Gaussian statistics / Frechet distance
# --------------------------------------------------------------------------
def test_gaussian_statistics_matches_numpy_cov():
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(50, 4))
    mean, cov = gaussian_statistics(feats)
    np.testing.assert_allclose(mean, feats.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(cov, np.cov(feats, rowvar=False), atol=1e-12)
    # One feature column still gives a [1, 1] covariance.
    _, cov1 = gaussian_statistics(feats[:, :1])
    assert cov1.shape == (1, 1)


def test_frechet_identical_features_is_zero():
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(200, 6)) @ rng.normal(size=(6, 6))
    assert frechet_distance(feats, feats) == pytest.approx(0.0, abs=1e-6)


def test_frechet_diagonal_closed_form():
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.1, 3.0, size=5), rng.uniform(0.1, 3.0, size=5)
    got = frechet_distance_from_statistics(mu1, np.diag(s1), mu2, np.diag(s2))
    assert got == pytest.approx(_closed_form_diag(mu1, s1, mu2, s2), abs=1e-8, rel=0)
    assert got > 0.1


def test_frechet_invariant_to_common_rotation():
    rng = np.random.default_rng(3)
    dim = 6
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    s1, s2 = rng.uniform(0.1, 3.0, size=dim), rng.uniform(0.1, 3.0, size=dim)
    q = _random_orthogonal(rng, dim)
    got = frechet_distance_from_statistics(
        q @ mu1, q @ np.diag(s1) @ q.T, q @ mu2, q @ np.diag(s2) @ q.T
    )
    assert got == pytest.approx(_closed_form_diag(mu1, s1, mu2, s2), abs=1e-8, rel=0)


def test_frechet_non_commuting_matches_eigenvalue_reference():
    rng = np.random.default_rng(4)
    dim = 5
    a, b = rng.normal(size=(dim, dim)), rng.normal(size=(dim, dim))
    cov1, cov2 = a @ a.T + 0.1 * np.eye(dim), b @ b.T + 0.1 * np.eye(dim)
    mu1, mu2 = rng.normal(size=dim), rng.normal(size=dim)
    # Reference: cov1 cov2 is similar to a PSD matrix, so its eigenvalues are
    # real and >= 0 and tr sqrt(cov1 cov2) = sum sqrt(eigenvalues).
    tr_sqrt = np.sum(np.sqrt(np.linalg.eigvals(cov1 @ cov2).real))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_sqrt
    got = frechet_distance_from_statistics(mu1, cov1, mu2, cov2)
    assert got == pytest.approx(expected, rel=1e-8, abs=1e-8)
    # A distance is symmetric.
    back = frechet_distance_from_statistics(mu2, cov2, mu1, cov1)
    assert back == pytest.approx(got, rel=1e-8, abs=1e-8)


def test_frechet_singular_covariance_gives_the_closed_form():
    # Rank-deficient covariances have eigenvalues that round to tiny negatives: an unclipped square
    # root turns them into NaN. Shifting a set leaves its covariance, so FD = ||shift||^2 exactly.
    rng = np.random.default_rng(5)
    feats = rng.normal(size=(3, 8))  # 3 samples in 8-D: rank <= 2
    assert frechet_distance(feats, feats + 1e-9) == pytest.approx(0.0, abs=1e-6)
    shift = rng.normal(size=8)
    assert frechet_distance(feats, feats + shift) == pytest.approx(shift @ shift, rel=1e-6)


def test_frechet_from_samples_approximates_closed_form():
    rng = np.random.default_rng(6)
    mu1, mu2 = np.array([0.0, 1.0, -1.0]), np.array([0.5, 0.0, -1.0])
    s1, s2 = np.array([1.0, 0.5, 2.0]), np.array([2.0, 0.5, 1.0])
    n = 20000
    a = mu1 + np.sqrt(s1) * rng.normal(size=(n, 3))
    b = mu2 + np.sqrt(s2) * rng.normal(size=(n, 3))
    expected = _closed_form_diag(mu1, s1, mu2, s2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.05)


def test_frechet_input_validation():
    rng = np.random.default_rng(7)
    good = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(good, rng.normal(size=(10, 4)))
    with pytest.raises(ValueError, match="ndim"):
        frechet_distance(good[0], good)
    with pytest.raises(ValueError, match="at least 2 rows"):
        frechet_distance(good[:1], good)
    bad = good.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(good, bad)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        frechet_distance_from_statistics(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="at least 2 rows"):
        gaussian_statistics(good[:1])


# --------------------------------------------------------------------------
# Kernel distance
# --------------------------------------------------------------------------
def test_kid_same_distribution_near_zero_and_shift_positive():
    rng = np.random.default_rng(8)
    a = rng.normal(size=(2000, 8))
    b = rng.normal(size=(2000, 8))
    shifted = rng.normal(size=(2000, 8)) + 0.5
    same_mean, same_std = kernel_inception_distance(a, b, num_subsets=20, subset_size=500)
    diff_mean, _ = kernel_inception_distance(a, shifted, num_subsets=20, subset_size=500)
    assert abs(same_mean) < 0.05
    assert same_std > 0.0  # 20 different subsets give 20 different estimates
    assert diff_mean > 0.5
    assert diff_mean > 20 * abs(same_mean)


def test_kid_full_subset_equals_unbiased_mmd_by_pair_loop():
    # One subset of the full size is a permutation of all rows, so KID must
    # equal the unbiased MMD^2 written out as explicit pair sums.
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(7, 3)) + 0.3
    dim = x.shape[1]

    def k(u, v):
        return (u @ v / dim + 1.0) ** 3

    n = len(x)
    same_x = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j)
    same_y = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j)
    cross = sum(k(x[i], y[j]) for i in range(n) for j in range(n))
    expected = (same_x + same_y) / (n * (n - 1)) - 2.0 * cross / n**2
    mean, std = kernel_inception_distance(x, y, num_subsets=1, subset_size=n)
    assert mean == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert std == 0.0


def test_kid_is_seeded_and_clips_subset_size():
    rng = np.random.default_rng(9)
    a, b = rng.normal(size=(60, 4)), rng.normal(size=(40, 4)) + 1.0
    first = kernel_inception_distance(a, b, num_subsets=5, seed=3)
    second = kernel_inception_distance(a, b, num_subsets=5, seed=3)
    assert first == second
    assert kernel_inception_distance(a, b, num_subsets=5, seed=4) != first  # the seed draws subsets
    # subset_size (default 1000) is clipped to min(N, M) = 40: the same subsets as asking for 40
    assert kernel_inception_distance(a, b, num_subsets=5, subset_size=40, seed=3) == first


def test_kid_input_validation():
    rng = np.random.default_rng(10)
    a = rng.normal(size=(20, 3))
    with pytest.raises(ValueError, match="dimensions differ"):
        kernel_inception_distance(a, rng.normal(size=(20, 2)))
    with pytest.raises(ValueError, match="subset_size"):
        kernel_inception_distance(a, a, subset_size=1)
    with pytest.raises(ValueError, match="num_subsets"):
        kernel_inception_distance(a, a, num_subsets=0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        kernel_inception_distance(a, np.full((20, 3), np.inf))


# --------------------------------------------------------------------------
# Inception score
# --------------------------------------------------------------------------
def test_inception_score_uniform_is_one():
    mean, std = inception_score(np.zeros((50, 10)), num_splits=5)
    assert mean == pytest.approx(1.0, abs=1e-12)
    assert std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_of_a_perfect_class_sorted_generator_is_the_number_of_classes():
    """Conditional samples come sorted by class (np.repeat); a perfect generator must still score
    about the number of classes, not 1 (contiguous splits of sorted samples hold one class each)."""
    num_classes = 10
    labels = np.repeat(np.arange(num_classes), 500)
    # Huge logits check the log-softmax path stays finite.
    logits = 1000.0 * np.eye(num_classes)[labels]
    mean, std = inception_score(logits, num_splits=10)
    assert mean == pytest.approx(num_classes, rel=0.01)
    assert std < 0.05


def test_inception_score_does_not_depend_on_the_order_of_its_input():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(600, 10)) * 3.0 + 4.0 * np.eye(10)[np.repeat(np.arange(10), 60)]
    shuffled = logits[rng.permutation(len(logits))]
    assert inception_score(shuffled, num_splits=10) == inception_score(logits, num_splits=10)


def test_inception_score_confident_single_class_is_one():
    logits = 50.0 * np.eye(5)[np.zeros(30, dtype=int)]
    mean, _ = inception_score(logits, num_splits=3)
    assert mean == pytest.approx(1.0, abs=1e-6)


def test_inception_score_input_validation():
    with pytest.raises(ValueError, match="num_splits"):
        inception_score(np.zeros((5, 3)), num_splits=6)
    with pytest.raises(ValueError, match="ndim"):
        inception_score(np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        inception_score(np.array([[0.0, np.nan]]), num_splits=1)


# --------------------------------------------------------------------------
# Sharpness
# --------------------------------------------------------------------------
def _checkerboard(size):
    idx = np.arange(size)
    return ((idx[:, None] + idx[None, :]) % 2).astype(np.float64)


def test_laplacian_variance_constant_is_zero():
    images = np.full((3, 10, 12), 0.7)
    np.testing.assert_allclose(laplacian_variance(images), 0.0, atol=1e-12)


def test_laplacian_variance_hand_values():
    # Checkerboard: every Laplacian response is 4 (1 - v) - 4 v = +-4; the
    # 6x6 interior holds 18 of each sign, so mean 0 and variance 16.
    board = _checkerboard(8)
    # Single bright pixel in 5x5: 3x3 interior responses are -4 at the
    # centre, +1 at its 4 neighbours, 0 elsewhere: mean 0, var 20/9.
    impulse = np.zeros((5, 5))
    impulse[2, 2] = 1.0
    np.testing.assert_allclose(laplacian_variance(board[None]), [16.0])
    np.testing.assert_allclose(laplacian_variance(impulse[None]), [20.0 / 9.0])


def test_laplacian_variance_channels_averaged_to_grey():
    board = _checkerboard(8)
    rgb = np.stack([board, board, board], axis=-1)[None]
    np.testing.assert_allclose(laplacian_variance(rgb), [16.0])
    # Averaging a board with its inverse gives constant grey 0.5.
    mixed = np.stack([board, 1.0 - board], axis=-1)[None]
    np.testing.assert_allclose(laplacian_variance(mixed), [0.0], atol=1e-12)


def test_laplacian_variance_matches_per_image_loop():
    rng = np.random.default_rng(11)
    images = rng.uniform(size=(4, 7, 9))
    kernel = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
    expected = []
    for img in images:
        resp = [[np.sum(kernel * img[i : i + 3, j : j + 3]) for j in range(7)] for i in range(5)]
        expected.append(np.var(resp))
    np.testing.assert_allclose(laplacian_variance(images), expected, rtol=1e-12)


def test_blurring_lowers_sharpness():
    rng = np.random.default_rng(12)
    images = rng.uniform(size=(5, 16, 16))
    # 3x3 box blur on the interior (edges kept) via shifted sums.
    blurred = images.copy()
    blurred[:, 1:-1, 1:-1] = (
        sum(images[:, 1 + di : 15 + di, 1 + dj : 15 + dj] for di in (-1, 0, 1) for dj in (-1, 0, 1))
        / 9.0
    )
    assert np.all(laplacian_variance(blurred) < laplacian_variance(images))
    assert sharpness_ratio(blurred, images) < 0.5


def test_sharpness_ratio_self_is_one_and_zero_reference_raises():
    rng = np.random.default_rng(13)
    images = rng.uniform(size=(3, 10, 10, 1))
    assert sharpness_ratio(images, images) == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="zero sharpness"):
        sharpness_ratio(images, np.zeros((2, 10, 10)))


def test_laplacian_variance_input_validation():
    with pytest.raises(ValueError, match="ndim"):
        laplacian_variance(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="H, W >= 3"):
        laplacian_variance(np.zeros((2, 2, 8)))
    bad = np.zeros((1, 5, 5))
    bad[0, 2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        laplacian_variance(bad)


# --------------------------------------------------------------------------
# Accuracy
# --------------------------------------------------------------------------
def test_class_accuracy_hand_example():
    logits = np.array(
        [
            [2.0, 1.0, 0.0],  # argmax 0
            [0.0, 3.0, 1.0],  # argmax 1
            [0.5, 0.2, 0.9],  # argmax 2
            [1.0, 4.0, 2.0],
        ]
    )  # argmax 1
    labels = np.array([0, 1, 0, 2])
    assert class_accuracy(logits, labels) == pytest.approx(0.5)
    assert class_accuracy(logits, np.array([0, 1, 2, 1])) == 1.0


def test_class_accuracy_input_validation():
    logits = np.zeros((4, 3))
    with pytest.raises(ValueError, match="labels must have shape"):
        class_accuracy(logits, np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="integers"):
        class_accuracy(logits, np.zeros(4))
    with pytest.raises(ValueError, match="lie in"):
        class_accuracy(logits, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="NaN"):
        class_accuracy(np.full((4, 3), np.nan), np.zeros(4, dtype=int))


def test_mean_pairwise_distance_by_hand():
    # distances between 0, 1 and 3 on a line: 1, 3 and 2
    assert mean_pairwise_distance(np.array([[0.0], [1.0], [3.0]])) == pytest.approx(2.0)
    collapsed = np.ones((50, 4))
    assert mean_pairwise_distance(collapsed) == pytest.approx(0.0, abs=1e-6)
