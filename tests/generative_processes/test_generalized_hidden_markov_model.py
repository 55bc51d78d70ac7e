import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.generative_processes import GeneralizedHiddenMarkovModel, build_hidden_markov_model


def test_ghmm_of_an_hmm_gives_the_hmms_word_probabilities(mess3):
    as_ghmm = GeneralizedHiddenMarkovModel(mess3.transition_matrices)
    words = jnp.array(list(itertools.product(range(3), repeat=4)))
    np.testing.assert_allclose(as_ghmm.probability(words), mess3.probability(words), rtol=1e-5, atol=1e-9)


def test_matrices_are_rescaled_to_principal_eigenvalue_one(mess3):
    scaled = GeneralizedHiddenMarkovModel(3.0 * np.asarray(mess3.transition_matrices))
    np.testing.assert_allclose(scaled.transition_matrices, mess3.transition_matrices, rtol=1e-5)


def test_log_probability_of_a_long_sequence_does_not_underflow(mess3):
    tokens = mess3.generate(mess3.initial_state[None], jax.random.split(jax.random.key(0), 1), 10_000)[1][0]
    log_probability = float(mess3.log_probability(tokens))
    assert np.isfinite(log_probability)
    # About the entropy rate (1.0889 nats) per token.
    assert -10_000 * 1.2 < log_probability < -10_000 * 1.0
    assert float(mess3.probability(tokens)) == 0.0  # the plain probability underflows, its log does not


def test_log_probability_equals_sum_of_conditional_log_probabilities(mess3):
    tokens = jnp.array([0, 2, 2, 1, 0])
    state, total = mess3.initial_state, 0.0
    for token in tokens:
        total += float(jnp.log(mess3.observation_probability_distribution(state)[token]))
        state = mess3.transition_states(state, token)
    assert float(mess3.log_probability(tokens)) == pytest.approx(total, rel=1e-5)


def test_impossible_word_has_log_probability_minus_infinity():
    golden_mean = build_hidden_markov_model("no_consecutive_ones", p=0.5)
    assert float(golden_mean.log_probability(jnp.array([0, 1, 1, 0]))) == -np.inf
    assert float(golden_mean.log_probability(jnp.array([0, 1, 0, 1]))) == pytest.approx(np.log(1 / 6), rel=1e-5)
