"""Sample-quality metrics for generated images (pure NumPy, float64 inside).

All metrics compare generated images with real ones through the features or
logits of a *frozen classifier*; the classifier itself lives elsewhere in the
package. The metrics are:

* Frechet distance (FID; Heusel et al. 2017, "GANs Trained by a Two Time-Scale
  Update Rule Converge to a Local Nash Equilibrium"): fit a Gaussian to each
  feature set and take the Frechet (2-Wasserstein) distance between them,
  ``||mu1 - mu2||^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^{1/2})``.
* Kernel distance (KID; Binkowski et al. 2018, "Demystifying MMD GANs"): the
  unbiased squared MMD with the cubic polynomial kernel
  ``k(x, y) = (x.y / D + 1)^3``, averaged over random subsets.
* Inception score (IS; Salimans et al. 2016, "Improved Techniques for Training
  GANs"): ``exp(E_x KL(p(y|x) || p(y)))``, averaged over splits.
* Laplacian variance: variance of the 3x3 Laplacian response, a simple
  sharpness (blur) measure; ``sharpness_ratio`` compares it with real images.
* Class accuracy: fraction of images whose classifier argmax equals a label.
* Mean pairwise distance of features: the spread of a set; a class whose
  samples all look alike (mode collapse) has a small one next to real data.

IMPORTANT: here the features/logits come from an MNIST classifier, not from
Inception-v3, so the FID/KID/IS values are NOT comparable with published
numbers; they are only meaningful relative to each other within this project.
"""

import numpy as np

__all__ = [
    "gaussian_statistics",
    "frechet_distance_from_statistics",
    "frechet_distance",
    "kernel_inception_distance",
    "inception_score",
    "laplacian_variance",
    "sharpness_ratio",
    "class_accuracy",
    "mean_pairwise_distance",
]


# --------------------------------------------------------------------------
# Input validation helpers
# --------------------------------------------------------------------------
def _as_finite_array(name, x, ndim=None):
    """Converts to float64 and checks dimensionality and finiteness."""
    arr = np.asarray(x, dtype=np.float64)
    if ndim is not None and arr.ndim not in np.atleast_1d(ndim):
        raise ValueError(f"{name} must have ndim {ndim}, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _as_features(name, x, min_rows):
    """Feature matrix [N, D] with N >= min_rows and D >= 1."""
    arr = _as_finite_array(name, x, ndim=2)
    if arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one feature column")
    if arr.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {arr.shape[0]}")
    return arr


def _check_same_dim(a, b):
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")


def _psd_sqrt(mat):
    """Symmetric PSD square root via eigh; negative eigenvalues are
    round-off of a covariance, so they are clipped to 0."""
    sym = 0.5 * (mat + mat.T)
    eigvals, eigvecs = np.linalg.eigh(sym)
    return (eigvecs * np.sqrt(np.clip(eigvals, 0.0, None))) @ eigvecs.T


# --------------------------------------------------------------------------
# Frechet distance
# --------------------------------------------------------------------------
def gaussian_statistics(features):
    """Mean [D] and unbiased covariance [D, D] (rows are samples)."""
    feats = _as_features("features", features, min_rows=2)
    mean = feats.mean(axis=0)
    centred = feats - mean
    # Explicit formula keeps the [D, D] shape even for D == 1 (np.cov would
    # return a 0-d array there).
    cov = centred.T @ centred / (feats.shape[0] - 1)
    return mean, cov


def frechet_distance_from_statistics(mu1, cov1, mu2, cov2):
    """Frechet distance between N(mu1, cov1) and N(mu2, cov2)."""
    mu1 = _as_finite_array("mu1", mu1, ndim=1)
    mu2 = _as_finite_array("mu2", mu2, ndim=1)
    cov1 = _as_finite_array("cov1", cov1, ndim=2)
    cov2 = _as_finite_array("cov2", cov2, ndim=2)
    dim = mu1.shape[0]
    if mu2.shape != (dim,) or cov1.shape != (dim, dim) or cov2.shape != (dim, dim):
        raise ValueError(
            f"inconsistent shapes: mu1 {mu1.shape}, cov1 {cov1.shape}, mu2 {mu2.shape}, cov2 {cov2.shape}"
        )

    # tr sqrt(C1 C2) = tr sqrt(S C2 S) with S = C1^{1/2}: the latter matrix is
    # symmetric PSD, so eigvalsh is stable and needs no scipy.linalg.sqrtm.
    sqrt_cov1 = _psd_sqrt(cov1)
    middle = sqrt_cov1 @ cov2 @ sqrt_cov1
    eigvals = np.linalg.eigvalsh(0.5 * (middle + middle.T))
    tr_covmean = np.sum(np.sqrt(np.clip(eigvals, 0.0, None)))

    diff = mu1 - mu2
    dist = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * tr_covmean
    # The true distance is >= 0; tiny negatives are round-off.
    return float(max(dist, 0.0))


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to [N, D] and [M, D]."""
    feats_a = _as_features("features_a", features_a, min_rows=2)
    feats_b = _as_features("features_b", features_b, min_rows=2)
    _check_same_dim(feats_a, feats_b)
    mu_a, cov_a = gaussian_statistics(feats_a)
    mu_b, cov_b = gaussian_statistics(feats_b)
    return frechet_distance_from_statistics(mu_a, cov_a, mu_b, cov_b)


# --------------------------------------------------------------------------
# Kernel distance
# --------------------------------------------------------------------------
def _polynomial_kernel(x, y):
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x, y):
    """Unbiased MMD^2: self-similarity diagonals are excluded."""
    m = x.shape[0]
    k_xx = _polynomial_kernel(x, x)
    k_yy = _polynomial_kernel(y, y)
    k_xy = _polynomial_kernel(x, y)
    off_diag = m * (m - 1)
    return (
        (k_xx.sum() - np.trace(k_xx)) / off_diag
        + (k_yy.sum() - np.trace(k_yy)) / off_diag
        - 2.0 * k_xy.mean()
    )


def kernel_inception_distance(features_a, features_b, *, num_subsets=100, subset_size=1000, seed=0):
    """KID: mean and std (over subsets, ddof=0) of the unbiased MMD^2."""
    feats_a = _as_features("features_a", features_a, min_rows=2)
    feats_b = _as_features("features_b", features_b, min_rows=2)
    _check_same_dim(feats_a, feats_b)
    if int(num_subsets) < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}")
    size = min(int(subset_size), feats_a.shape[0], feats_b.shape[0])
    if size < 2:
        # The unbiased estimator divides by m (m - 1).
        raise ValueError(f"subset_size must be >= 2, got {subset_size}")

    rng = np.random.default_rng(seed)
    mmds = np.empty(int(num_subsets))
    for i in range(int(num_subsets)):
        idx_a = rng.choice(feats_a.shape[0], size=size, replace=False)
        idx_b = rng.choice(feats_b.shape[0], size=size, replace=False)
        mmds[i] = _unbiased_mmd2(feats_a[idx_a], feats_b[idx_b])
    return float(mmds.mean()), float(mmds.std())


# --------------------------------------------------------------------------
# Inception score
# --------------------------------------------------------------------------
def _log_softmax(logits):
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def inception_score(logits, *, num_splits=10, seed=0):
    """IS: mean and std (over splits, ddof=0) of exp(E KL(p(y|x) || p(y))).

    The score must not depend on the order of its input: class-conditional samples usually come sorted
    by class, and contiguous splits of sorted samples each hold one class, so a perfect conditional
    generator would score about 1 instead of the number of classes. The rows are therefore put in a
    canonical order (sorted by their values) and then dealt to the splits by a fixed random permutation
    of `seed`: any reordering of the same logits gives the same score.
    """
    logits = _as_features("logits", logits, min_rows=1)
    num_splits = int(num_splits)
    if num_splits < 1 or num_splits > logits.shape[0]:
        raise ValueError(f"num_splits must be in [1, {logits.shape[0]}], got {num_splits}")
    canonical = logits[np.lexsort(logits.T[::-1])]
    dealt = canonical[np.random.default_rng(seed).permutation(len(canonical))]

    scores = []
    for split in np.array_split(_log_softmax(dealt), num_splits):
        # log p(y) = log mean_x p(y|x), computed in log space for stability.
        top = split.max(axis=0)
        log_py = top + np.log(np.exp(split - top).mean(axis=0))
        kl = np.sum(np.exp(split) * (split - log_py), axis=1)
        scores.append(np.exp(kl.mean()))
    scores = np.asarray(scores)
    return float(scores.mean()), float(scores.std())


# --------------------------------------------------------------------------
# Sharpness
# --------------------------------------------------------------------------
def laplacian_variance(images):
    """Per-image variance of the 3x3 Laplacian over the valid interior.

    images: [N, H, W] or [N, H, W, C] (expected in [0, 1]); channels are
    averaged to grey first. Returns [N].
    """
    imgs = _as_finite_array("images", images, ndim=(3, 4))
    if imgs.ndim == 4:
        imgs = imgs.mean(axis=3)
    if imgs.shape[0] < 1 or imgs.shape[1] < 3 or imgs.shape[2] < 3:
        raise ValueError(f"images need N >= 1 and H, W >= 3, got shape {imgs.shape}")
    # Kernel [[0,1,0],[1,-4,1],[0,1,0]] as shifted slices over all images.
    centre = imgs[:, 1:-1, 1:-1]
    lap = (
        imgs[:, :-2, 1:-1]
        + imgs[:, 2:, 1:-1]
        + imgs[:, 1:-1, :-2]
        + imgs[:, 1:-1, 2:]
        - 4.0 * centre
    )
    return lap.reshape(lap.shape[0], -1).var(axis=1)


def sharpness_ratio(images, reference_images):
    """Mean Laplacian variance of images relative to reference images."""
    reference = laplacian_variance(reference_images).mean()
    if reference <= 0.0:
        raise ValueError("reference_images have zero sharpness (constant images)")
    return float(laplacian_variance(images).mean() / reference)


# --------------------------------------------------------------------------
# Accuracy
# --------------------------------------------------------------------------
def class_accuracy(logits, labels):
    """Fraction of rows whose argmax logit equals the integer label."""
    logits = _as_features("logits", logits, min_rows=1)
    labels = np.asarray(labels)
    if labels.shape != (logits.shape[0],):
        raise ValueError(f"labels must have shape ({logits.shape[0]},), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(
            f"labels must lie in [0, {logits.shape[1]}), got range [{labels.min()}, {labels.max()}]"
        )
    return float(np.mean(np.argmax(logits, axis=1) == labels))


# --------------------------------------------------------------------------
# Diversity
# --------------------------------------------------------------------------
def mean_pairwise_distance(features, *, max_rows=1000, seed=0):
    """Mean Euclidean distance between distinct rows (a random subset of at
    most ``max_rows`` rows, so the cost stays bounded). features: [N, D], N >= 2."""
    feats = _as_features("features", features, min_rows=2)
    if feats.shape[0] > max_rows:
        rows = np.random.default_rng(seed).choice(feats.shape[0], max_rows, replace=False)
        feats = feats[rows]
    squared = (feats**2).sum(axis=1)
    gram = squared[:, None] + squared[None, :] - 2.0 * feats @ feats.T
    distances = np.sqrt(np.maximum(gram, 0.0))
    n = feats.shape[0]
    return float(distances.sum() / (n * (n - 1)))
