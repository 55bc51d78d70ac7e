"""Principal component analysis (optionally probability-weighted) with explained variance."""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PCA:
    """Principal axes of a point cloud, largest variance first.

    Arguments:
        mean: the (weighted) mean, shape `(features,)`.
        components: unit principal axes as rows, shape `(k, features)`.
        explained_variance: the (weighted) variance along each axis, shape `(k,)`.
        explained_variance_ratio: each axis's share of the total variance, shape `(k,)`.
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray

    def components_for_variance(self, share: float) -> int:
        """Returns how many leading axes hold at least `share` (in (0, 1]) of the variance (all axes at most).

        Example:
            >>> fit_pca(np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [2.0, 1.0]])).components_for_variance(0.9)
            2
        """
        if not 0 < share <= 1:
            raise ValueError(f"share={share!r} must be in (0, 1]")
        cumulative = np.cumsum(self.explained_variance_ratio)
        # A tiny tolerance, so that a share reached exactly is not missed by rounding.
        return int(min(np.searchsorted(cumulative, share - 1e-12) + 1, len(cumulative)))

    def transform(self, points: np.ndarray) -> np.ndarray:
        """Returns the coordinates of `points` (shape `(n, features)`) on the axes, shape `(n, k)`."""
        return (np.asarray(points, dtype=np.float64) - self.mean) @ self.components.T


def fit_pca(points: np.ndarray, num_components: int | None = None, weights: np.ndarray | None = None) -> PCA:
    """Returns the principal axes of `points`, each point counted with its weight.

    The sign of each axis is fixed so that its largest-magnitude loading is positive, so equal inputs give equal
    axes.

    Arguments:
        points: shape `(n, features)`.
        num_components: how many axes to keep; all `min(n, features)` when None.
        weights: non-negative weight of each point, shape `(n,)`; all ones when None.

    Example:
        >>> pca = fit_pca(np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0], [2.0, 1.0]]))
        >>> pca.explained_variance_ratio
        array([0.8, 0.2])
    """
    points = np.asarray(points, dtype=np.float64)
    weights = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
    total = weights.sum()
    if total <= 0:
        raise ValueError("the weights sum to zero: no points to analyse")
    mean = weights @ points / total
    centred = np.sqrt(weights / total)[:, None] * (points - mean)
    _, singular_values, axes = np.linalg.svd(centred, full_matrices=False)
    variance = singular_values**2
    signs = np.sign(axes[np.arange(len(axes)), np.argmax(np.abs(axes), axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    keep = len(variance) if num_components is None else num_components
    total_variance = variance.sum()
    ratio = variance / total_variance if total_variance > 0 else np.zeros_like(variance)
    return PCA(
        mean=mean, components=axes[:keep], explained_variance=variance[:keep], explained_variance_ratio=ratio[:keep]
    )
