"""Weighted linear regression with bias (a linear probe), its held-out scores, and a seeded train/test split.

Everything runs on the host in float64 numpy.
"""

from dataclasses import dataclass

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


def fit_affine_map(features: np.ndarray, targets: np.ndarray, weights: np.ndarray | None = None) -> AffineMap:
    """Returns the affine map minimising `sum_i w_i ||x_i @ W + b - y_i||^2` (weighted least squares with bias).

    A point of weight 0 has no influence. Where the minimiser is not unique (collinear features), the one of least
    norm is returned.

    Arguments:
        features: shape `(n, features)`.
        targets: shape `(n, outputs)`.
        weights: non-negative weight of each point, shape `(n,)`; all ones when None.

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
    # Centring on the weighted means solves for the bias exactly and keeps the design well conditioned.
    feature_mean = weights @ features / total
    target_mean = weights @ targets / total
    root = np.sqrt(weights)[:, None]
    solution, *_ = np.linalg.lstsq(root * (features - feature_mean), root * (targets - target_mean), rcond=None)
    return AffineMap(weights=solution, bias=target_mean - feature_mean @ solution)


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
    """

    affine_map: AffineMap
    r2: float
    rmse: float
    train_r2: float


def fit_probe(
    features: np.ndarray, targets: np.ndarray, weights: np.ndarray, train: np.ndarray, test: np.ndarray
) -> ProbeResult:
    """Fits an affine map on the `train` rows and scores it on the `test` rows (weighted).

    Arguments:
        features: shape `(n, features)`.
        targets: shape `(n, outputs)`.
        weights: shape `(n,)`.
        train: row indices to fit on.
        test: row indices to score on.
    """
    affine_map = fit_affine_map(features[train], targets[train], weights[train])
    held_out = affine_map(features[test])
    return ProbeResult(
        affine_map=affine_map,
        r2=weighted_r2(targets[test], held_out, weights[test]),
        rmse=weighted_rmse(targets[test], held_out, weights[test]),
        train_r2=weighted_r2(targets[train], affine_map(features[train]), weights[train]),
    )
