"""Subspace overlaps, principal angles and spread, against subspaces and closed forms built in the test."""

import numpy as np
import pytest

from simplexity.analysis.subspaces import (
    compare_subspaces,
    effective_rank,
    orthonormal_basis,
    overlap_curve,
    participation_ratio,
    principal_directions,
    subspace_overlap,
)


def random_rotation(d: int, seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def test_the_overlap_is_zero_for_orthogonal_subspaces_and_one_for_identical_ones():
    rotation = random_rotation(12, 0)
    first, second = rotation[:3], rotation[3:6]  # orthonormal rows, mutually orthogonal
    assert subspace_overlap(first, second) == pytest.approx(0.0, abs=1e-24)
    mixed = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0] @ first  # another basis of `first`
    assert subspace_overlap(first, mixed) == pytest.approx(1.0, abs=1e-12)


def test_the_overlap_of_random_subspaces_is_near_k_over_d():
    d, k, draws = 20, 3, 400
    values = [subspace_overlap(random_rotation(d, 2 * i)[:k], random_rotation(d, 2 * i + 1)[:k]) for i in range(draws)]
    # E ||A B^T||_F^2 / k = k / d for independent uniformly random subspaces; the mean of 400 draws is within 0.01.
    assert np.mean(values) == pytest.approx(k / d, abs=0.01)


def test_principal_cosines_of_planes_at_known_angles():
    theta, phi = 0.3, 1.1
    e = np.eye(5)
    first = np.stack([e[0], e[1]])
    second = np.stack([np.cos(theta) * e[0] + np.sin(theta) * e[2], np.cos(phi) * e[1] + np.sin(phi) * e[3]])
    comparison = compare_subspaces(2.0 * first + 1.0 * np.roll(first, 1, axis=0), second)  # any spanning set
    np.testing.assert_allclose(comparison.cosines, [np.cos(theta), np.cos(phi)], atol=1e-12)
    assert comparison.largest_cosine == pytest.approx(np.cos(theta), abs=1e-12)
    assert comparison.smallest_cosine == pytest.approx(np.cos(phi), abs=1e-12)
    assert comparison.overlap == pytest.approx((np.cos(theta) ** 2 + np.cos(phi) ** 2) / 2, abs=1e-12)


def test_principal_cosines_match_the_arccos_of_projections_computed_independently():
    """For one-dimensional subspaces the principal cosine is |<a, b>| / (|a| |b|)."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=7), rng.normal(size=7)
    expected = abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b)
    assert compare_subspaces(a[None], b[None]).largest_cosine == pytest.approx(expected, abs=1e-12)


def test_orthonormal_basis_drops_null_directions():
    vectors = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    basis = orthonormal_basis(vectors)
    assert basis.shape == (2, 3)
    np.testing.assert_allclose(basis @ basis.T, np.eye(2), atol=1e-12)


def test_participation_ratio_and_effective_rank_of_known_spectra():
    matrix = np.diag([3.0, 1.0, 0.0])
    assert participation_ratio(matrix) == pytest.approx((9 + 1) ** 2 / (81 + 1), abs=1e-12)
    p = np.array([0.75, 0.25])
    assert effective_rank(matrix) == pytest.approx(np.exp(-(p * np.log(p)).sum()), abs=1e-12)
    assert effective_rank(np.eye(4)) == pytest.approx(4.0, abs=1e-12)
    assert participation_ratio(np.eye(4)) == pytest.approx(4.0, abs=1e-12)


def test_principal_directions_centre_each_group_on_its_own_mean():
    rng = np.random.default_rng(4)
    # Two groups far apart along axis 0; within each, points vary along axis 1 only.
    points = np.concatenate(
        [[[0.0, y, 0.0] for y in rng.normal(size=50)], [[10.0, y, 0.0] for y in rng.normal(size=50)]]
    )
    groups = np.repeat([0, 1], 50)
    directions, variances = principal_directions(points, groups)
    np.testing.assert_allclose(np.abs(directions[0]), [0.0, 1.0, 0.0], atol=1e-12)
    assert variances[1] == pytest.approx(0.0, abs=1e-20)
    ungrouped, _ = principal_directions(points)
    np.testing.assert_allclose(np.abs(ungrouped[0]), [1.0, 0.0, 0.0], atol=1e-2)
    assert overlap_curve(directions, directions, 2).tolist() == pytest.approx([1.0, 1.0])
