"""Probe targets beyond the belief, against the golden mean process worked out by hand."""

import numpy as np
import pytest

from simplexity.analysis import belief_dataset
from simplexity.analysis.belief_geometry import model_outputs
from simplexity.analysis.targets import compare_targets, probe_targets
from simplexity.generative_processes import build_hidden_markov_model, causal_states
from tests.analysis.test_belief_geometry import BayesFilter


@pytest.fixture(scope="module")
def golden():
    return build_hidden_markov_model("no_consecutive_ones")


def test_golden_mean_targets_by_hand(golden):
    dataset = belief_dataset(golden, 4)
    targets = probe_targets(golden, dataset, last_k=1)
    last = dataset.tokens[np.arange(len(dataset)), dataset.lengths - 1]
    machine = causal_states(golden)
    after_one = int(np.argmin(machine.token_probabilities[:, 1]))  # the state that must emit 0
    # The golden mean synchronises on every token: the causal state is the one the last token leads to.
    np.testing.assert_allclose(targets["causal_state"][:, after_one], (last == 1).astype(float), atol=1e-12)
    np.testing.assert_array_equal(targets["last_k_tokens"].argmax(axis=1), last)
    # Read backwards, a future starting with 1 fixes S+ = A (after 0); one starting with 0 leaves (1/2, 1/2). So
    # after a 1 (S+ = B) the future starts with 0 surely; after a 0 (S+ = A) either, each with probability 1/2.
    reverse = targets["reverse_belief"]
    np.testing.assert_allclose(reverse.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.sort(reverse[last == 0], axis=1), 0.5, atol=1e-12)
    np.testing.assert_allclose(np.sort(reverse[last == 1], axis=1), [[0.0, 1.0]] * int((last == 1).sum()), atol=1e-12)


def test_the_exact_predictor_holds_every_target_that_is_a_function_of_its_belief(golden):
    dataset = belief_dataset(golden, 5)
    outputs = model_outputs(BayesFilter(golden), dataset, batch_size=64)
    comparison = compare_targets(golden, dataset, outputs, last_k=1)
    for target in ("belief", "causal_state", "last_k_tokens", "reverse_belief"):
        assert comparison.probes[target]["belief"].r2 == pytest.approx(1.0, abs=1e-6), target
    information = comparison.summary()["process"]
    assert information["cryptic_order"] == 1
    assert information["crypticity"] == pytest.approx(2 / 3 * np.log(2), abs=1e-12)  # chi+ = h at Markov order 1
