"""Weighted linear regression with bias (a linear probe), its held-out scores, and a seeded train/test split.

Everything runs on the host in float64 numpy.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np


@dataclass(frozen=True)
class AffineMap:
    """The map `x -> x @ weights + bias`.

    Arguments:
        weights: shape `(features, outputs)`.
        bias: shape `(outputs,)`.
    """

    weights: np.ndarray
    bias: np.ndarray

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Returns the image of `features` (shape `(n, features)`), shape `(n, outputs)`."""
        return np.asarray(features, dtype=np.float64) @ self.weights + self.bias


# Relative spread of squared targets below which they count as constant: 2^-40, far above float64 rounding.
_ROUNDING_SPREAD = 2.0**-40


def _as_weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (n,) or np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError(f"weights must be {n} finite non-negative numbers, got shape {weights.shape}")
    return weights


# Ridge penalties `choose_ridge` tries, relative to the mean eigenvalue of the weighted feature covariance (so
# that they do not depend on the features' scale): from practically none to strong shrinkage.
RIDGE_PENALTIES = tuple(10.0**exponent for exponent in range(-10, 0))
RIDGE_FOLDS = 5


# `sum w`, `sum w x`, `sum w y`, `sum w x x^T` and `sum w x y^T` over a set of points.
WeightedSums = tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _weighted_sums(features: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> WeightedSums:
    """Returns `sum w`, `sum w x`, `sum w y`, `sum w x x^T` and `sum w x y^T` over the points."""
    weighted = features * weights[:, None]
    return weights.sum(), weights @ features, weights @ targets, weighted.T @ features, weighted.T @ targets


def _centred_moments(sums: WeightedSums) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Returns, from `_weighted_sums`, the weighted means of x and y and the centred `X^T W X` and `X^T W Y`.

    The points' features should be roughly centred already (shifted by their weighted mean), so that the
    subtraction here loses nothing to cancellation.
    """
    weight, feature_sum, target_sum, gram, cross = sums
    feature_mean, target_mean = feature_sum / weight, target_sum / weight
    return (
        feature_mean,
        target_mean,
        gram - weight * np.outer(feature_mean, feature_mean),
        cross - weight * np.outer(feature_mean, target_mean),
    )


def _ridge_solutions(gram: np.ndarray, cross: np.ndarray, penalties: Sequence[float]) -> list[np.ndarray]:
    """Returns `(gram + penalty * mean_eigenvalue * I)^-1 cross` for each penalty, from one eigendecomposition."""
    eigenvalues, vectors = np.linalg.eigh(gram)
    eigenvalues = np.maximum(eigenvalues, 0.0)  # a positive semi-definite matrix, up to rounding
    scale = eigenvalues.mean()
    projected = vectors.T @ cross
    if scale <= 0:  # features constant over the weighted points: nothing to learn beyond the mean
        return [np.zeros_like(cross) for _ in penalties]
    return [vectors @ (projected / (eigenvalues + penalty * scale)[:, None]) for penalty in penalties]


def fit_affine_map(
    features: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None, ridge: float = 0.0
) -> AffineMap:
    """Returns the affine map minimising `sum_i w_i ||x_i @ W + b - y_i||^2 + ridge * s * ||W||^2`.

    `s` is the mean eigenvalue of the weighted centred covariance `sum_i w_i (x_i - xbar)(x_i - xbar)^T`, so the
    penalty does not depend on the features' scale; the bias is not penalised. With `ridge=0` this is weighted
    least squares with bias, and where its minimiser is not unique (collinear features) the one of least norm is
    returned. A point of weight 0 has no influence.

    Arguments:
        features: shape `(n, features)`.
        targets: shape `(n, outputs)`.
        weights: non-negative weight of each point, shape `(n,)`; all ones when None.
        ridge: the relative penalty, at least 0.

    Example:
        >>> x = np.random.default_rng(0).normal(size=(50, 4))
        >>> fit_affine_map(x, x @ np.ones((4, 2)) + 3.0).bias
        array([3., 3.])
    """
    features = np.asarray(features, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    weights = _as_weights(weights, len(features))
    total = weights.sum()
    if total <= 0:
        raise ValueError("the weights sum to zero: nothing to fit")
    if not ridge >= 0:
        raise ValueError(f"ridge={ridge!r} must be a number at least 0")
    # Centring on the weighted means solves for the bias exactly and keeps the design well conditioned.
    feature_mean = weights @ features / total
    if ridge > 0:
        shift, target_mean, gram, cross = _centred_moments(_weighted_sums(features - feature_mean, targets, weights))
        (solution,) = _ridge_solutions(gram, cross, [ridge])
        return AffineMap(weights=solution, bias=target_mean - (feature_mean + shift) @ solution)
    target_mean = weights @ targets / total
    root = np.sqrt(weights)[:, None]
    solution, *_ = np.linalg.lstsq(root * (features - feature_mean), root * (targets - target_mean), rcond=None)
    return AffineMap(weights=solution, bias=target_mean - feature_mean @ solution)


def choose_ridge(
    features: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray | None = None,
    penalties: Sequence[float] = RIDGE_PENALTIES,
    num_folds: int = RIDGE_FOLDS,
    seed: int = 0,
) -> float:
    """Returns the relative ridge penalty (see `fit_affine_map`) of least weighted cross-validated squared error.

    The points are dealt into `num_folds` folds by a seeded permutation; each fold is predicted by the map fitted
    on the others, and the squared errors are summed with the points' weights. Ties go to the smaller penalty.
    The weighted sums of each fold are computed once, so the whole search costs about one fit.

    Arguments:
        features: shape `(n, features)`.
        targets: shape `(n, outputs)`.
        weights: shape `(n,)`; all ones when None.
        penalties: the candidates, each greater than 0.
        num_folds: how many folds (fewer when there are fewer points).
        seed: seed of the folds.
    """
    features = np.asarray(features, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    weights = _as_weights(weights, len(features))
    # Shifting the features changes only the bias; it keeps the sums below free of cancellation.
    features = features - weights @ features / max(weights.sum(), np.finfo(np.float64).tiny)
    num_folds = min(num_folds, len(features))
    folds = np.random.default_rng(seed).permutation(len(features)) % num_folds
    sums = [
        _weighted_sums(features[folds == fold], targets[folds == fold], weights[folds == fold])
        for fold in range(num_folds)
    ]
    total = [sum(parts) for parts in zip(*sums, strict=True)]
    errors = np.zeros(len(penalties))
    for fold, held_out in enumerate(sums):
        fitted = cast(WeightedSums, tuple(all_ - part for all_, part in zip(total, held_out, strict=True)))
        if fitted[0] <= 0:  # no weight outside this fold
            continue
        feature_mean, target_mean, gram, cross = _centred_moments(fitted)
        rows = folds == fold
        centred, residual = features[rows] - feature_mean, targets[rows] - target_mean
        for index, solution in enumerate(_ridge_solutions(gram, cross, penalties)):
            errors[index] += weights[rows] @ np.sum((centred @ solution - residual) ** 2, axis=1)
    return float(penalties[int(np.argmin(errors))])


def weighted_r2(targets: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Returns `1 - SS_res / SS_tot`, pooled over output dimensions, each point weighted.

    `SS_res = sum_i w_i ||y_i - yhat_i||^2` and `SS_tot = sum_i w_i ||y_i - ybar||^2` with `ybar` the weighted mean
    of `targets`; NaN when the targets do not vary (a spread within float64 rounding of their size counts as none:
    held-out beliefs that are one point, recomputed through different paths, differ only by rounding).

    Arguments:
        targets: shape `(n, outputs)`.
        predictions: shape `(n, outputs)`.
        weights: shape `(n,)`; all ones when None.
    """
    targets = np.asarray(targets, dtype=np.float64)
    weights = _as_weights(weights, len(targets))
    mean = weights @ targets / weights.sum()
    residual = weights @ np.sum((targets - predictions) ** 2, axis=1)
    spread = weights @ np.sum((targets - mean) ** 2, axis=1)
    size = weights @ np.sum(targets**2, axis=1)
    return float(1.0 - residual / spread) if spread > _ROUNDING_SPREAD * size else float("nan")


def weighted_rmse(targets: np.ndarray, predictions: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Returns the root of the weighted mean, over points, of the squared error per output coordinate.

    Arguments:
        targets: shape `(n, outputs)`.
        predictions: shape `(n, outputs)`.
        weights: shape `(n,)`; all ones when None.
    """
    targets = np.asarray(targets, dtype=np.float64)
    weights = _as_weights(weights, len(targets))
    squared = np.mean((targets - predictions) ** 2, axis=1)
    return float(np.sqrt(weights @ squared / weights.sum()))


def train_test_split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns sorted indices of the training and the held-out points: a seeded random split of `range(n)`.

    At least one point lands on each side when `n >= 2`.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction={test_fraction!r} must be strictly between 0 and 1")
    order = np.random.default_rng(seed).permutation(n)
    num_test = min(max(round(n * test_fraction), 1), n - 1)
    return np.sort(order[num_test:]), np.sort(order[:num_test])


def scores_per_group(
    targets: np.ndarray, predictions: np.ndarray, weights: np.ndarray, groups: np.ndarray, num_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Returns the weighted R^2 and RMSE within each group (NaN for a group without points), shape `(num_groups,)`.

    Arguments:
        targets: shape `(n, outputs)`.
        predictions: shape `(n, outputs)`.
        weights: shape `(n,)`.
        groups: the group of each point, integers in `[0, num_groups)`, shape `(n,)`.
        num_groups: how many groups.
    """
    r2, rmse = np.full(num_groups, np.nan), np.full(num_groups, np.nan)
    for group in range(num_groups):
        members = groups == group
        if members.any() and weights[members].sum() > 0:
            r2[group] = weighted_r2(targets[members], predictions[members], weights[members])
            rmse[group] = weighted_rmse(targets[members], predictions[members], weights[members])
    return r2, rmse


@dataclass(frozen=True)
class ProbeResult:
    """A linear probe fitted on the training points and scored on the held-out points.

    Arguments:
        affine_map: the fitted map from features to targets.
        r2: weighted R^2 on the held-out points.
        rmse: weighted RMSE on the held-out points.
        train_r2: weighted R^2 on the training points.
        ridge: the relative ridge penalty it was fitted with (`fit_affine_map`).
    """

    affine_map: AffineMap
    r2: float
    rmse: float
    train_r2: float
    ridge: float = 0.0


def fit_probe(
    features: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    ridge: float | None = None,
    seed: int = 0,
) -> ProbeResult:
    """Fits an affine map on the `train` rows and scores it on the `test` rows (weighted).

    Arguments:
        features: shape `(n, features)`.
        targets: shape `(n, outputs)`.
        weights: shape `(n,)`.
        train: row indices to fit on.
        test: row indices to score on.
        ridge: the relative ridge penalty (`fit_affine_map`; 0 for least squares), or None to choose it by
            cross-validation within the `train` rows (`choose_ridge`), which never sees the `test` rows.
        seed: seed of the cross-validation folds.
    """
    if ridge is None:
        ridge = choose_ridge(features[train], targets[train], weights[train], seed=seed)
    affine_map = fit_affine_map(features[train], targets[train], weights[train], ridge)
    held_out = affine_map(features[test])
    return ProbeResult(
        affine_map=affine_map,
        r2=weighted_r2(targets[test], held_out, weights[test]),
        rmse=weighted_rmse(targets[test], held_out, weights[test]),
        train_r2=weighted_r2(targets[train], affine_map(features[train]), weights[train]),
        ridge=ridge,
    )


def effective_sample_size(weights: np.ndarray) -> float:
    """Returns Kish's effective number of points, `(sum w)^2 / sum w^2`: how many equal-weight points they are worth.

    Probability weights over contexts are far from equal (a few short contexts carry much of the weight), so a fit
    or a score over thousands of contexts can rest on a few dozen.
    """
    weights = np.asarray(weights, dtype=np.float64)
    squares = float(weights @ weights)
    return float(weights.sum() ** 2 / squares) if squares > 0 else 0.0
