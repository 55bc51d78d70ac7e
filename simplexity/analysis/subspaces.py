"""How linear subspaces sit against each other: overlaps of principal directions, principal angles, effective rank.

All float64 numpy. A subspace is given by vectors spanning it as rows (`(k, d)`); bases are orthonormalised
here, so any spanning set will do.
"""

from dataclasses import dataclass

import numpy as np

# Singular values below this share of the largest count as zero when a spanning set is orthonormalised: far above
# the rounding of vectors computed from float32 activations (about 1e-8), far below any direction they carry.
_RANK_TOLERANCE = 1e-6


def orthonormal_basis(vectors: np.ndarray) -> np.ndarray:
    """Returns an orthonormal basis (rows) of the span of `vectors` (rows, shape `(k, d)`), dropping null directions."""
    vectors = np.atleast_2d(np.asarray(vectors, dtype=np.float64))
    _, singular_values, axes = np.linalg.svd(vectors, full_matrices=False)
    if len(singular_values) == 0 or singular_values[0] == 0:
        return np.zeros((0, vectors.shape[1]))
    return axes[singular_values > _RANK_TOLERANCE * singular_values[0]]


def subspace_overlap(first: np.ndarray, second: np.ndarray) -> float:
    """Returns `||A B^T||_F^2 / k` for orthonormal bases `A`, `B` of `k` rows each.

    It is 1 for equal subspaces, 0 for orthogonal ones, and `k / d` in expectation for independent random
    `k`-dimensional subspaces of `R^d`.

    Example:
        >>> subspace_overlap(np.eye(3)[:1], np.eye(3)[1:2])
        0.0
    """
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    if first.shape != second.shape:
        raise ValueError(f"bases of shapes {first.shape} and {second.shape}: an overlap needs two of k rows each")
    return float(np.sum((first @ second.T) ** 2) / len(first))


def principal_cosines(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Returns the cosines of the principal angles between the spans of two sets of row vectors, largest first.

    There are `min(dim first, dim second)` of them: the singular values of `Q_1 Q_2^T` for orthonormal bases.
    """
    q1, q2 = orthonormal_basis(first), orthonormal_basis(second)
    if len(q1) == 0 or len(q2) == 0:
        return np.zeros(0)
    return np.clip(np.linalg.svd(q1 @ q2.T, compute_uv=False), 0.0, 1.0)


def participation_ratio(matrix: np.ndarray) -> float:
    """Returns `(sum s^2)^2 / sum s^4` over the singular values `s` of `matrix`: how many directions carry it."""
    squares = np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False) ** 2
    return float(squares.sum() ** 2 / np.sum(squares**2)) if squares.sum() > 0 else 0.0


def effective_rank(matrix: np.ndarray) -> float:
    """Returns `exp(H(p))` for `p` the singular values of `matrix` normalised to sum to 1 (Roy and Vetterli)."""
    values = np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)
    if values.sum() == 0:
        return 0.0
    p = values / values.sum()
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


@dataclass(frozen=True)
class SubspaceComparison:
    """Two subspaces compared by their principal angles.

    Arguments:
        cosines: the principal cosines, largest first; `overlap` is their mean square (`subspace_overlap` when the
            dimensions are equal).
    """

    cosines: np.ndarray

    @property
    def overlap(self) -> float:
        """The mean squared principal cosine: 0 for orthogonal subspaces, 1 when one holds the other."""
        return float(np.mean(self.cosines**2)) if len(self.cosines) else 0.0

    @property
    def largest_cosine(self) -> float:
        """The cosine of the smallest principal angle."""
        return float(self.cosines[0]) if len(self.cosines) else 0.0

    @property
    def smallest_cosine(self) -> float:
        """The cosine of the largest principal angle."""
        return float(self.cosines[-1]) if len(self.cosines) else 0.0


def compare_subspaces(first: np.ndarray, second: np.ndarray) -> SubspaceComparison:
    """Returns the principal angles between the spans of two sets of row vectors."""
    return SubspaceComparison(principal_cosines(first, second))


def principal_directions(points: np.ndarray, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Returns the principal directions (rows, largest variance first) and their variances, of centred points.

    Arguments:
        points: shape `(n, d)`.
        groups: a label per point; each group is centred on its own mean (positions, say), so that only the
            variation within groups counts. One group when None.
    """
    points = np.asarray(points, dtype=np.float64)
    labels = np.zeros(len(points), dtype=np.int64) if groups is None else np.unique(groups, return_inverse=True)[1]
    means = np.zeros((labels.max() + 1, points.shape[1]))
    np.add.at(means, labels, points)
    means /= np.bincount(labels)[:, None]
    centred = points - means[labels]
    _, singular_values, axes = np.linalg.svd(centred, full_matrices=False)
    return axes, singular_values**2 / len(points)


def overlap_curve(first: np.ndarray, second: np.ndarray, max_k: int) -> np.ndarray:
    """Returns `subspace_overlap` of the top-k rows of two sets of principal directions for `k = 1..max_k`."""
    return np.array([subspace_overlap(first[:k], second[:k]) for k in range(1, max_k + 1)])
