import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.generative_processes import HiddenMarkovModel, stationary_distribution


def golden_mean(p: float) -> np.ndarray:
    """No two consecutive 1s: from A emit 0 (stay) w.p. p or 1 (go to B) w.p. 1 - p; from B emit 0 back to A."""
    matrices = np.zeros((2, 2, 2))
    matrices[0, 0, 0], matrices[1, 0, 1], matrices[0, 1, 0] = p, 1 - p, 1.0
    return matrices


def exact_word_probability(process: HiddenMarkovModel, state: np.ndarray, word: tuple[int, ...]) -> float:
    vector = np.asarray(state, dtype=np.float64)
    for token in word:
        vector = vector @ np.asarray(process.transition_matrices[token], dtype=np.float64)
    return float(vector.sum())


def sample_words(process: HiddenMarkovModel, state: np.ndarray, length: int, count: int, seed: int) -> np.ndarray:
    states = jnp.broadcast_to(jnp.asarray(state, dtype=jnp.float32), (count, process.num_states))
    _, tokens = process.generate(states, jax.random.split(jax.random.key(seed), count), length)
    return np.asarray(tokens)


def assert_word_frequencies_match(process: HiddenMarkovModel, state: np.ndarray, length: int, count: int) -> None:
    tokens = sample_words(process, state, length, count, seed=1)
    for word in itertools.product(range(process.vocab_size), repeat=length):
        expected = exact_word_probability(process, state, word)
        observed = np.mean(np.all(tokens == np.asarray(word), axis=1))
        tolerance = 5 * np.sqrt(expected * (1 - expected) / count) + 1e-12
        assert abs(observed - expected) <= tolerance, (word, observed, expected)


def test_stationary_distribution_is_invariant():
    matrices = golden_mean(0.5)
    pi = stationary_distribution(matrices)
    np.testing.assert_allclose(pi, [2 / 3, 1 / 3], atol=1e-12)
    np.testing.assert_allclose(pi @ matrices.sum(axis=0), pi, atol=1e-12)


def test_initial_state_defaults_to_stationary_distribution():
    process = HiddenMarkovModel(golden_mean(0.5))
    np.testing.assert_allclose(process.initial_state, [2 / 3, 1 / 3], atol=1e-6)
    assert process.vocab_size == 2
    assert process.num_states == 2


def test_word_frequencies_from_stationary_start_match_exact_probabilities(mess3):
    assert_word_frequencies_match(mess3, np.asarray(mess3.initial_state), length=3, count=40_000)


def test_word_frequencies_from_non_stationary_start_match_exact_probabilities(mess3):
    assert_word_frequencies_match(mess3, np.array([0.7, 0.2, 0.1]), length=3, count=40_000)


def test_forbidden_words_never_sampled_and_allowed_words_match():
    process = HiddenMarkovModel(golden_mean(0.4))
    tokens = sample_words(process, np.asarray(process.initial_state), length=50, count=500, seed=0)
    assert not np.any((tokens[:, 1:] == 1) & (tokens[:, :-1] == 1))
    assert_word_frequencies_match(process, np.asarray(process.initial_state), length=4, count=40_000)


def test_generate_is_a_function_of_the_keys(mess3):
    first = sample_words(mess3, np.asarray(mess3.initial_state), length=20, count=8, seed=3)
    again = sample_words(mess3, np.asarray(mess3.initial_state), length=20, count=8, seed=3)
    other = sample_words(mess3, np.asarray(mess3.initial_state), length=20, count=8, seed=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_final_state_is_one_hot_hidden_state_consistent_with_last_token():
    # In the golden mean process, emitting 1 always ends in state B.
    process = HiddenMarkovModel(golden_mean(0.5))
    states = jnp.broadcast_to(process.initial_state, (200, 2))
    final, tokens = process.generate(states, jax.random.split(jax.random.key(0), 200), 5)
    np.testing.assert_array_equal(np.asarray(final).sum(axis=1), 1.0)
    ended_with_one = np.asarray(tokens[:, -1]) == 1
    np.testing.assert_array_equal(np.asarray(final)[ended_with_one], [[0.0, 1.0]] * int(ended_with_one.sum()))


def test_belief_update_is_bayes_rule(mess3):
    belief = jnp.array([0.5, 0.3, 0.2])
    updated = mess3.transition_states(belief, jnp.asarray(1))
    expected = np.asarray(belief) @ np.asarray(mess3.transition_matrices[1])
    np.testing.assert_allclose(updated, expected / expected.sum(), rtol=1e-6)
    np.testing.assert_allclose(mess3.observation_probability_distribution(belief).sum(), 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    ("matrices", "message"),
    [
        (np.ones((2, 2)), "shape"),
        (-golden_mean(0.5), "non-negative"),
        (golden_mean(0.5) * 0.9, "must be 1"),
    ],
)
def test_invalid_transition_matrices_are_rejected(matrices, message):
    with pytest.raises(ValueError, match=message):
        HiddenMarkovModel(matrices)


def test_invalid_initial_state_is_rejected():
    with pytest.raises(ValueError, match="initial_state"):
        HiddenMarkovModel(golden_mean(0.5), initial_state=np.array([0.5, 0.6]))
