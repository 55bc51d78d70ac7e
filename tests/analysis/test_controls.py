"""The controls of the belief-geometry analysis, against computations written here."""

import json

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from simplexity.analysis import CONCATENATED, analyze_model, belief_dataset, format_report
from simplexity.analysis.controls import markov_baseline, markov_predictions, shuffled_target_probe
from simplexity.analysis.pca import fit_pca
from simplexity.analysis.regression import fit_probe, scores_per_group, train_test_split
from simplexity.config import CONFIG_DIR
from simplexity.generative_processes import build_hidden_markov_model
from simplexity.predictive_models import build_gru_rnn


@pytest.fixture(scope="module")
def geometry(mess3, tiny_gru_rnn):
    untrained = build_gru_rnn(vocab_size=3, embedding_size=4, num_layers=2, hidden_size=8, seed=1)
    return analyze_model(tiny_gru_rnn, mess3, 4, untrained=untrained, batch_size=64)


def suffix_mean(dataset, rows, row, order):
    """The weighted mean belief of the contexts among `rows` whose last `order` tokens (or whole word) match row's."""
    length = dataset.lengths[row]
    key = (min(length, order), tuple(dataset.tokens[row][max(0, length - order) : length]))
    alike = [
        r
        for r in rows
        if (
            min(dataset.lengths[r], order),
            tuple(dataset.tokens[r][max(0, dataset.lengths[r] - order) : dataset.lengths[r]]),
        )
        == key
    ]
    if not alike:
        return None
    return np.average(dataset.beliefs[alike], axis=0, weights=dataset.probabilities[alike])


def test_the_markov_baseline_predicts_the_mean_belief_of_contexts_ending_alike(mess3):
    dataset = belief_dataset(mess3, 4)
    train, test = train_test_split(len(dataset), 0.2, 0)
    predictions = markov_predictions(dataset, 2, dataset.probabilities, train)
    for row in test:
        # A k-gram no training context ends in backs off to the order-1 suffix.
        expected = suffix_mean(dataset, train, row, 2)
        if expected is None:
            expected = suffix_mean(dataset, train, row, 1)
        assert expected is not None
        np.testing.assert_allclose(predictions[row], expected, atol=1e-12)
    probe = markov_baseline(dataset, 2, dataset.probabilities, train, test)
    np.testing.assert_allclose(probe.affine_map.weights, predictions)


def test_held_out_short_contexts_back_off_so_a_longer_memory_is_never_worse(mess3):
    dataset = belief_dataset(build_hidden_markov_model("mess3", x=0.05, a=0.85), 6)
    train, test = train_test_split(len(dataset), 0.2, 0)
    rmse = [markov_baseline(dataset, order, dataset.probabilities, train, test).rmse for order in (1, 2, 3)]
    assert rmse[0] > rmse[1] > rmse[2]


def test_the_order_one_baseline_is_exact_for_a_process_of_markov_order_one():
    golden = build_hidden_markov_model("no_consecutive_ones", p=0.5)
    dataset = belief_dataset(golden, 6)
    train, test = train_test_split(len(dataset), 0.2, 0)
    probe = markov_baseline(dataset, 1, dataset.probabilities, train, test)
    assert probe.rmse < 1e-12 and probe.r2 == pytest.approx(1.0, abs=1e-12)


def test_shuffled_targets_leave_nothing_to_find(mess3):
    dataset = belief_dataset(mess3, 5)
    train, test = train_test_split(len(dataset), 0.2, 0)
    perfect = fit_probe(dataset.beliefs, dataset.beliefs, dataset.probabilities, train, test)
    shuffled = shuffled_target_probe(dataset.beliefs, dataset.beliefs, dataset.probabilities, train, test, seed=0)
    assert perfect.r2 == pytest.approx(1.0, abs=1e-9)
    assert shuffled.r2 < 0.1


def test_every_probe_reports_its_controls_and_ratios(geometry):
    summary = geometry.summary()
    controls = summary["controls"]
    assert set(controls["untrained"]) == set(summary["regression"])
    assert set(controls["markov"]) == {"order_1", "order_2", "order_3"}
    best = controls["markov"][f"order_{controls['best_markov_order']}"]["rmse"]
    assert best == min(scores["rmse"] for scores in controls["markov"].values())
    for name, scores in summary["regression"].items():
        assert scores["rmse_over_untrained"] == pytest.approx(scores["rmse"] / controls["untrained"][name]["rmse"])
        assert scores["rmse_over_best_markov"] == pytest.approx(scores["rmse"] / best)
    # A model is its own untrained control: the ratio is exactly 1.
    mess3 = build_hidden_markov_model("mess3", x=0.15, a=0.6)
    model = build_gru_rnn(vocab_size=3, embedding_size=4, num_layers=2, hidden_size=8, seed=0)
    itself = analyze_model(model, mess3, 3, untrained=model, batch_size=64).summary()
    assert itself["regression"][CONCATENATED]["rmse_over_untrained"] == pytest.approx(1.0, abs=1e-12)


def test_per_position_scores_are_the_scores_of_each_positions_held_out_contexts(geometry):
    r2, rmse = geometry.per_position[CONCATENATED]
    test = geometry.test
    for position in range(geometry.dataset.max_context_len):
        rows = test[geometry.dataset.positions[test] == position]
        truth, predicted, weights = (
            geometry.dataset.beliefs[rows],
            geometry.predictions[CONCATENATED][rows],
            geometry.weights[rows],
        )
        expected_rmse = np.sqrt(weights @ np.mean((truth - predicted) ** 2, axis=1) / weights.sum())
        assert rmse[position] == pytest.approx(expected_rmse, rel=1e-12)
    assert len(r2) == geometry.dataset.max_context_len
    groups_r2, _ = scores_per_group(np.eye(2), np.eye(2), np.ones(2), np.array([0, 0]), 2)
    assert groups_r2[0] == pytest.approx(1.0) and np.isnan(groups_r2[1])


def test_uniform_weights_and_last_position_only(mess3, tiny_gru_rnn):
    geometry = analyze_model(tiny_gru_rnn, mess3, 3, weights="uniform", last_position_only=True, batch_size=64)
    assert np.all(geometry.dataset.lengths[geometry.probed] == 3)
    assert np.all(geometry.weights[geometry.probed] == 1.0)
    assert np.all(geometry.weights[geometry.dataset.lengths < 3] == 0.0)
    assert set(geometry.train) | set(geometry.test) == set(geometry.probed)
    with pytest.raises(ValueError, match="weights='flat'"):
        analyze_model(tiny_gru_rnn, mess3, 3, weights="flat")


def test_pca_reports_the_components_holding_each_share_of_the_variance(geometry):
    pca = fit_pca(np.random.default_rng(0).normal(size=(400, 4)) * np.array([4.0, 3.0, 2.0, 1.0]))
    cumulative = np.cumsum(pca.explained_variance_ratio)
    for share in (0.8, 0.9, 0.95, 0.99):
        count = pca.components_for_variance(share)
        assert cumulative[count - 1] >= share - 1e-12
        assert count == 1 or cumulative[count - 2] < share
    summary = geometry.summary()
    assert set(summary["pca_components_for_variance"]["layer_1.hidden"]) == {"0.8", "0.9", "0.95", "0.99"}
    assert summary["pca_cumulative_explained_variance"]["layer_1.hidden"][-1] == pytest.approx(1.0)


def test_the_mixture_is_analysable():
    mixture = instantiate(
        OmegaConf.load(CONFIG_DIR / "generative_process" / "mixture_golden_mean_zero_one_random.yaml").instance
    )
    model = build_gru_rnn(vocab_size=mixture.vocab_size, embedding_size=4, num_layers=1, hidden_size=8, seed=0)
    summary = analyze_model(model, mixture, 4, untrained=model, batch_size=64).summary()
    assert summary["num_contexts"] > 0
    assert summary["regression"][CONCATENATED]["rmse"] is not None
    assert summary["controls"]["markov"]["order_3"]["rmse"] is not None


def beliefs_fixed_by_last_tokens(dataset, order: int) -> bool:
    """Whether all contexts ending in the same `order` tokens (or the same whole word) have one belief, to 1e-12."""
    groups: dict[tuple, list[np.ndarray]] = {}
    for row in range(len(dataset)):
        length = dataset.lengths[row]
        key = (min(length, order), tuple(dataset.tokens[row][max(0, length - order) : length]))
        groups.setdefault(key, []).append(dataset.beliefs[row])
    return all(np.ptp(np.stack(beliefs), axis=0).max() < 1e-12 for beliefs in groups.values())


@pytest.fixture(scope="module")
def golden_mean_geometry():
    golden = build_hidden_markov_model("no_consecutive_ones", p=0.5)
    model = build_gru_rnn(vocab_size=2, embedding_size=4, num_layers=1, hidden_size=8, seed=0)
    untrained = build_gru_rnn(vocab_size=2, embedding_size=4, num_layers=1, hidden_size=8, seed=1)
    return analyze_model(model, golden, 5, untrained=untrained, batch_size=64)


def test_ratios_to_an_exact_markov_baseline_are_undefined(golden_mean_geometry):
    geometry = golden_mean_geometry
    # The golden mean has Markov order 1: a context's last token fixes its belief, so the order-1 baseline (each
    # last token's mean belief) predicts every held-out belief, and so do the longer ones.
    assert beliefs_fixed_by_last_tokens(geometry.dataset, 1)
    summary = geometry.summary()
    json.dumps(summary, allow_nan=False)
    controls = summary["controls"]
    assert controls["best_markov_order"] == 1  # the shortest memory that is exact
    assert controls["best_markov_exact"] is True
    assert [controls["markov"][f"order_{k}"]["exact"] for k in (1, 2, 3)] == [True, True, True]
    assert controls["markov"]["order_1"]["rmse"] < 1e-12
    untrained = controls["untrained"]
    for name, scores in summary["regression"].items():
        assert scores["rmse_over_best_markov"] is None
        if untrained[name]["exact"]:
            assert scores["rmse_over_untrained"] is None
        else:
            assert scores["rmse_over_untrained"] == pytest.approx(scores["rmse"] / untrained[name]["rmse"])
    # The embedding sees the last token, so its probe (and the concatenation's) is exact; the recurrent layer's
    # untrained probe is not, and its ratio stays a number.
    assert untrained["embed"]["exact"] and not untrained["layer_0.hidden"]["exact"]
    assert "order-1 Markov baseline (exact)" in geometry.control_predictions


def test_a_baseline_exact_but_for_float64_rounding_is_exact():
    process = build_hidden_markov_model("zero_one_random", p=0.5)
    model = build_gru_rnn(vocab_size=2, embedding_size=4, num_layers=1, hidden_size=8, seed=0)
    geometry = analyze_model(model, process, 4, untrained=model, batch_size=64)
    assert geometry.best_markov_order == 2
    # Each held-out context's belief is the belief of every training context that ends in the same two tokens.
    for row in geometry.test:
        expected = suffix_mean(geometry.dataset, geometry.train, row, 2)
        assert expected is not None
        np.testing.assert_allclose(expected, geometry.dataset.beliefs[row], atol=1e-12)
    baseline = geometry.markov_probes[2].rmse
    assert 0 < baseline < 1e-12  # rounding noise: the beliefs, each the mean of its group, differ in the last bits
    summary = geometry.summary()
    assert summary["controls"]["best_markov_exact"] is True
    assert {scores["rmse_over_best_markov"] for scores in summary["regression"].values()} == {None}
    assert summary["regression"][CONCATENATED]["rmse"] > 1e-3  # a real error, not a 1e15-fold one


def test_a_process_of_one_state_makes_every_control_exact():
    coin = build_hidden_markov_model("coin", p=0.5)
    model = build_gru_rnn(vocab_size=2, embedding_size=4, num_layers=1, hidden_size=8, seed=0)
    untrained = build_gru_rnn(vocab_size=2, embedding_size=4, num_layers=1, hidden_size=8, seed=1)
    summary = analyze_model(model, coin, 4, untrained=untrained, batch_size=64).summary()
    controls = summary["controls"]
    assert controls["best_markov_order"] == 1 and controls["best_markov_exact"] is True
    assert all(scores["exact"] for scores in controls["untrained"].values())
    for scores in summary["regression"].values():
        assert scores["rmse_over_untrained"] is None and scores["rmse_over_best_markov"] is None
        assert scores["rmse"] < 1e-9  # one belief, [1.0]: the bias predicts it
    report = format_report({**summary, "step": 0, "entropy_rate": None})
    assert "x untrained undefined, x best Markov undefined" in report
    assert "RMSE=0.0000, exact: it predicts every held-out belief, so ratios to it are undefined" in report
    assert "the untrained model's probes of embed, layer_0.hidden, concatenated are exact" in report


@pytest.mark.parametrize(
    ("name", "max_context_len", "order"),
    [
        ("mr_name", 4, 1),
        ("mixture_golden_mean_zero_one_random", 3, 2),
    ],
)
def test_the_exact_markov_baseline_of_a_configured_process_leaves_its_ratios_undefined(name, max_context_len, order):
    process = instantiate(OmegaConf.load(CONFIG_DIR / "generative_process" / f"{name}.yaml").instance)
    model = build_gru_rnn(vocab_size=process.vocab_size, embedding_size=4, num_layers=1, hidden_size=8, seed=0)
    untrained = build_gru_rnn(vocab_size=process.vocab_size, embedding_size=4, num_layers=1, hidden_size=8, seed=1)
    geometry = analyze_model(model, process, max_context_len, untrained=untrained, batch_size=64)
    dataset, train = geometry.dataset, geometry.train
    # Every held-out belief is the mean belief of the training contexts ending in the same `order` tokens, and for
    # a shorter memory some held-out belief is not. (In the mixture the contexts ending in "3 2", the zero-one-random
    # process's "1 0", differ in belief, but at this length none of them is held out.)
    for row in geometry.test:
        expected = suffix_mean(dataset, train, row, order)
        assert expected is not None
        np.testing.assert_allclose(expected, dataset.beliefs[row], atol=1e-12)
    if order > 1:
        errors = [np.abs(suffix_mean(dataset, train, row, order - 1) - dataset.beliefs[row]) for row in geometry.test]
        assert max(error.max() for error in errors) > 1e-3
    summary = geometry.summary()
    json.dumps(summary, allow_nan=False)
    controls = summary["controls"]
    assert controls["best_markov_order"] == order and controls["best_markov_exact"] is True
    assert [controls["markov"][f"order_{k}"]["exact"] for k in (1, 2, 3)] == [k >= order for k in (1, 2, 3)]
    for probe, scores in summary["regression"].items():
        assert scores["rmse_over_best_markov"] is None
        assert scores["rmse_over_untrained"] == pytest.approx(scores["rmse"] / controls["untrained"][probe]["rmse"])
    assert f"order-{order} Markov baseline (exact)" in geometry.control_predictions
    report = format_report({**summary, "step": 0, "entropy_rate": None})
    assert report.count("x best Markov undefined") == len(summary["regression"])
    assert f"best Markov baseline (order {order}) " in report
    assert "exact: it predicts every held-out belief, so ratios to it are undefined" in report
