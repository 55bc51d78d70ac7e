import numpy as np
import pytest

from simplexity.analysis import (
    choose_ridge,
    effective_sample_size,
    fit_affine_map,
    fit_probe,
    train_test_split,
    weighted_r2,
    weighted_rmse,
)
from simplexity.analysis.regression import RIDGE_PENALTIES


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
    weights = np.random.default_rng(1).uniform(size=len(features))
    probe = fit_probe(features, targets, weights, train, test, ridge=0.0)
    assert probe.r2 == pytest.approx(1.0, abs=1e-12)
    assert probe.rmse == pytest.approx(0.0, abs=1e-10)
    cross_validated = fit_probe(features, targets, weights, train, test)  # the least penalty: shrinks by ~1e-10
    assert cross_validated.ridge == min(RIDGE_PENALTIES)
    assert cross_validated.r2 == pytest.approx(1.0, abs=1e-12)


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


def ridge_by_augmented_least_squares(features, targets, weights, ridge):
    """The ridge solution computed another way: least squares on the design stacked over `sqrt(penalty) * I`."""
    mean_x, mean_y = weights @ features / weights.sum(), weights @ targets / weights.sum()
    root = np.sqrt(weights)[:, None]
    centred_x, centred_y = root * (features - mean_x), root * (targets - mean_y)
    penalty = ridge * np.sum(centred_x**2) / features.shape[1]  # the mean eigenvalue is the trace over the size
    design = np.vstack([centred_x, np.sqrt(penalty) * np.eye(features.shape[1])])
    solution, *_ = np.linalg.lstsq(design, np.vstack([centred_y, np.zeros((features.shape[1], 3))]), rcond=None)
    return solution, mean_y - mean_x @ solution


@pytest.mark.parametrize("ridge", [1e-6, 1e-2, 1.0])
def test_a_ridge_fit_equals_augmented_least_squares(affine_data, ridge):
    features, targets, _, _ = affine_data
    rng = np.random.default_rng(2)
    noisy, weights = targets + rng.normal(size=targets.shape), rng.uniform(size=len(features))
    fitted = fit_affine_map(features, noisy, weights, ridge)
    expected_weights, expected_bias = ridge_by_augmented_least_squares(features, noisy, weights, ridge)
    np.testing.assert_allclose(fitted.weights, expected_weights, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fitted.bias, expected_bias, rtol=1e-9, atol=1e-12)
    if ridge == 1.0:  # shrinkage: a smaller map than least squares gives
        assert np.linalg.norm(fitted.weights) < np.linalg.norm(fit_affine_map(features, noisy, weights).weights)


def test_the_chosen_ridge_has_the_least_cross_validated_error():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(60, 20))
    targets = features[:, :1] @ np.ones((1, 3)) * 0.3 + rng.normal(size=(60, 3))  # 19 features of pure noise
    weights = rng.uniform(0.5, 1.5, size=60)
    penalties = (1e-6, 1e-2, 1e-1, 1.0)
    folds = np.random.default_rng(7).permutation(60) % 5  # the folds choose_ridge deals with seed 7
    errors = []
    for penalty in penalties:
        error = 0.0
        for fold in range(5):
            fitted, held_out = folds != fold, folds == fold
            weights_, bias = ridge_by_augmented_least_squares(
                features[fitted], targets[fitted], weights[fitted], penalty
            )
            residual = features[held_out] @ weights_ + bias - targets[held_out]
            error += weights[held_out] @ np.sum(residual**2, axis=1)
        errors.append(error)
    chosen = choose_ridge(features, targets, weights, penalties, num_folds=5, seed=7)
    assert chosen == penalties[int(np.argmin(errors))]
    assert chosen > 1e-6  # noise features: shrinking beats fitting them
    exact = choose_ridge(features, features @ rng.normal(size=(20, 3)), weights, penalties, seed=7)
    assert exact == 1e-6  # an exact linear relation: the least penalty


def test_a_cross_validated_probe_does_not_extrapolate_a_direction_the_weights_barely_saw():
    # Feature 1 varies only on training points of negligible weight, whose targets are noisy: least squares fits
    # that noise, and its map is wrong on held-out points where feature 1 is large (their targets are exact).
    rng = np.random.default_rng(4)
    signal = rng.normal(size=400)
    rare = np.arange(400) < 60  # rows 0-19 held out at full weight; rows 20-59 trained on at weight 1e-12
    features = np.stack([signal, np.where(rare, rng.normal(size=400), 0.0)], axis=1)
    targets = np.stack([signal, -signal, 2 * signal], axis=1)
    noisy = (np.arange(400) >= 20) & rare
    targets[noisy] += 5.0 * rng.normal(size=(int(noisy.sum()), 3))
    weights = np.where(noisy, 1e-12, 1.0)
    train, test = np.arange(20, 400), np.arange(20)
    least_squares = fit_probe(features, targets, weights, train, test, ridge=0.0)
    cross_validated = fit_probe(features, targets, weights, train, test)
    assert cross_validated.ridge > 0
    assert least_squares.rmse > 0.1
    assert cross_validated.rmse < 0.01 * least_squares.rmse


def test_effective_sample_size():
    assert effective_sample_size(np.ones(40)) == pytest.approx(40.0)
    assert effective_sample_size(np.array([1.0, 1.0, 0.0])) == pytest.approx(2.0)
    # One point holding nearly all the weight is worth about one point, however many others there are.
    assert effective_sample_size(np.append(np.full(1000, 1e-6), 1.0)) == pytest.approx(1.0, abs=0.01)
