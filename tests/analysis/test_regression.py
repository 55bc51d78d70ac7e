import numpy as np
import pytest

from simplexity.analysis import fit_affine_map, fit_probe, train_test_split, weighted_r2, weighted_rmse


@pytest.fixture
def affine_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 5))
    weights = rng.normal(size=(5, 3))
    bias = np.array([0.5, -1.0, 2.0])
    return features, features @ weights + bias, weights, bias


def test_a_known_affine_map_is_recovered_exactly(affine_data):
    features, targets, weights, bias = affine_data
    fitted = fit_affine_map(features, targets)
    np.testing.assert_allclose(fitted.weights, weights, atol=1e-10)
    np.testing.assert_allclose(fitted.bias, bias, atol=1e-10)


def test_held_out_r2_of_an_exact_affine_map_is_one(affine_data):
    features, targets, _, _ = affine_data
    train, test = train_test_split(len(features), 0.25, seed=0)
    probe = fit_probe(features, targets, np.random.default_rng(1).uniform(size=len(features)), train, test)
    assert probe.r2 == pytest.approx(1.0, abs=1e-12)
    assert probe.rmse == pytest.approx(0.0, abs=1e-10)


def test_a_heavily_weighted_point_dominates_the_fit():
    features = np.array([[0.0], [1.0], [2.0], [3.0]])
    targets = np.array([[0.0], [1.0], [2.0], [10.0]])
    weights = np.array([1.0, 1.0, 1.0, 1e8])
    fitted = fit_affine_map(features, targets, weights)
    assert fitted(features[3:])[0, 0] == pytest.approx(10.0, abs=1e-5)
    unweighted = fit_affine_map(features, targets)
    assert abs(unweighted(features[3:])[0, 0] - 10.0) > 1.0


def test_a_point_of_zero_weight_is_ignored(affine_data):
    features, targets, weights, bias = affine_data
    garbage_features = np.vstack([features, [[100.0, -50.0, 3.0, 7.0, 0.0]]])
    garbage_targets = np.vstack([targets, [[1e6, -1e6, 1e6]]])
    point_weights = np.append(np.ones(len(features)), 0.0)
    fitted = fit_affine_map(garbage_features, garbage_targets, point_weights)
    np.testing.assert_allclose(fitted.weights, weights, atol=1e-9)
    np.testing.assert_allclose(fitted.bias, bias, atol=1e-9)
    assert weighted_r2(garbage_targets, fitted(garbage_features), point_weights) == pytest.approx(1.0, abs=1e-12)


def test_r2_and_rmse_of_a_known_prediction():
    targets = np.array([[0.0], [2.0]])
    predictions = np.array([[1.0], [1.0]])  # the mean: explains nothing
    assert weighted_r2(targets, predictions) == pytest.approx(0.0)
    assert weighted_rmse(targets, predictions) == pytest.approx(1.0)
    # Weighting the first point 3 times: mean 0.5, SS_tot = 3 * 0.25 + 2.25 = 3, SS_res = 3 + 1 = 4.
    assert weighted_r2(targets, predictions, np.array([3.0, 1.0])) == pytest.approx(1.0 - 4.0 / 3.0)


def test_r2_of_constant_targets_is_nan():
    assert np.isnan(weighted_r2(np.ones((4, 2)), np.ones((4, 2))))


def test_r2_of_targets_differing_by_rounding_is_nan():
    # One belief reached along two paths: equal up to float64 rounding, so there is no spread to explain.
    belief = np.array([[0.2, 0.3, 0.5]])
    targets = np.concatenate([belief, belief * (1 + 2.0**-52)])
    assert np.isnan(weighted_r2(targets, targets + 0.01))


def test_negative_weights_are_refused():
    with pytest.raises(ValueError, match="non-negative"):
        fit_affine_map(np.zeros((2, 1)), np.zeros((2, 1)), np.array([1.0, -1.0]))


def test_split_is_seeded_disjoint_and_complete():
    train, test = train_test_split(100, 0.2, seed=3)
    again_train, again_test = train_test_split(100, 0.2, seed=3)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(test, again_test)
    assert len(test) == 20
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(100))
    assert not np.array_equal(test, train_test_split(100, 0.2, seed=4)[1])
