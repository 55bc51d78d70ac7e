import numpy as np
import pytest

from simplexity.analysis import fit_pca


def test_explained_variance_of_known_data():
    # Variance 2 along the second axis, 0.5 along the first, none along the third.
    centred = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, -2.0, 0.0]])
    points = centred + np.array([3.0, 1.0, 5.0])
    pca = fit_pca(points)
    np.testing.assert_allclose(pca.explained_variance, [2.0, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(pca.explained_variance_ratio, [0.8, 0.2, 0.0], atol=1e-12)
    np.testing.assert_allclose(pca.components[:2], [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(pca.mean, [3.0, 1.0, 5.0])


def test_transform_gives_coordinates_on_the_axes():
    points = np.random.default_rng(0).normal(size=(50, 4))
    pca = fit_pca(points, num_components=2)
    coordinates = pca.transform(points)
    assert coordinates.shape == (50, 2)
    np.testing.assert_allclose(coordinates.var(axis=0), pca.explained_variance, rtol=1e-10)


def test_weight_two_equals_a_repeated_point():
    points = np.random.default_rng(1).normal(size=(6, 3))
    weighted = fit_pca(points, weights=np.array([2.0, 1, 1, 1, 1, 1]))
    repeated = fit_pca(np.vstack([points, points[:1]]))
    np.testing.assert_allclose(weighted.explained_variance, repeated.explained_variance, atol=1e-12)
    np.testing.assert_allclose(weighted.components, repeated.components, atol=1e-10)


def test_zero_total_weight_is_refused():
    with pytest.raises(ValueError, match="sum to zero"):
        fit_pca(np.ones((3, 2)), weights=np.zeros(3))
