import jax.numpy as jnp
import numpy as np

from simplexity.generative_processes import belief_layers, build_hidden_markov_model, mixed_state_graph, word_beliefs


def test_word_beliefs_are_the_belief_updates_along_each_word(mess3):
    table = word_beliefs(mess3, 3)
    assert table.words.shape == (27, 3)
    np.testing.assert_allclose(table.probabilities.sum(), 1.0, atol=1e-12)
    for word, belief in zip(table.words[::5], table.beliefs[::5], strict=True):
        state = mess3.initial_state
        for token in word:
            state = mess3.transition_states(state, jnp.asarray(token))
        np.testing.assert_allclose(belief, state, atol=1e-6)


def test_word_beliefs_drop_impossible_and_improbable_words():
    golden_mean = build_hidden_markov_model("no_consecutive_ones", p=0.5)
    table = word_beliefs(golden_mean, 4)
    assert not any("11" in "".join(map(str, word)) for word in table.words)
    assert len(table.words) == 8  # Fibonacci: binary words of length 4 without "11"
    assert np.all(word_beliefs(golden_mean, 4, min_probability=0.05).probabilities > 0.05)


def test_layers_merge_words_that_reach_the_same_belief():
    golden_mean = build_hidden_markov_model("no_consecutive_ones", p=0.5)
    layers = belief_layers(golden_mean, 200)
    assert max(len(layer.beliefs) for layer in layers) <= 2
    for layer in layers:
        np.testing.assert_allclose(layer.probabilities.sum(), 1.0, atol=1e-9)


def test_mixed_state_graph_of_golden_mean_has_start_and_two_causal_states():
    graph = mixed_state_graph(build_hidden_markov_model("no_consecutive_ones", p=0.5))
    assert len(graph.beliefs) == 3
    np.testing.assert_allclose(graph.beliefs[0], [2 / 3, 1 / 3], atol=1e-6)
    np.testing.assert_allclose(graph.token_probabilities.sum(axis=1), 1.0, atol=1e-6)
