"""Transforms of processes, checked with the forward pass written from the definitions (`reference.py`)."""

import itertools
import math

import numpy as np
import pytest

from simplexity.generative_processes import (
    GHMM_PROCESSES,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
    inflate_vocabulary,
    markov_approximation,
    random_epsilon_machine,
    time_reverse,
)
from tests.generative_processes.reference import Reference, myopic_entropies, reference_process, word_probabilities

PROCESSES = ["even_ones", "rrxor", "mr_name", "no_consecutive_ones", "mess3", "fanizza"]


def build(name: str):
    return (build_generalized_hidden_markov_model if name in GHMM_PROCESSES else build_hidden_markov_model)(name)


def reference_of(process) -> Reference:
    """The process's own float64 matrices, start and normalising vector, for the reference's forward pass."""
    presentation = process.presentation
    return Reference(presentation.transition_matrices, presentation.initial_state, presentation.normalizing_eigenvector)


def words_table(reference: Reference, length: int, vocab: int) -> np.ndarray:
    """`P(w)` for every word of `length` tokens, indexed `[w_1, ..., w_length]`."""
    return word_probabilities(reference, length).reshape((vocab,) * length)


@pytest.mark.parametrize("name", PROCESSES)
def test_the_time_reverse_gives_every_word_the_probability_of_its_reverse(name):
    process = build(name)
    reverse = time_reverse(process)
    vocab = process.vocab_size
    for length in range(1, 7):
        forward = words_table(reference_process(name), length, vocab)
        backward = words_table(reference_of(reverse), length, vocab)
        np.testing.assert_allclose(backward, forward.transpose(tuple(reversed(range(length)))), rtol=0, atol=1e-12)
    assert reverse.presentation.is_hidden_markov_model == process.presentation.is_hidden_markov_model


def test_reversing_twice_gives_the_process_back():
    process = build_hidden_markov_model("mr_name")
    twice = time_reverse(time_reverse(process))
    for length in range(1, 6):
        np.testing.assert_allclose(
            words_table(reference_of(twice), length, 4), words_table(reference_of(process), length, 4), atol=1e-12
        )


def test_a_process_not_started_in_its_stationary_state_is_not_reversed():
    process = build_hidden_markov_model("even_ones")
    started = type(process)(process.presentation.transition_matrices, initial_state=np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="needs a process started in its stationary state"):
        time_reverse(started)


@pytest.mark.parametrize("name", ["even_ones", "rrxor", "mess3", "no_consecutive_ones"])
@pytest.mark.parametrize("order", [0, 1, 2, 3])
def test_the_markov_approximation_keeps_every_word_of_up_to_order_plus_one_tokens(name, order):
    process = build_hidden_markov_model(name)
    approximation = markov_approximation(process, order)
    vocab = process.vocab_size
    for length in range(1, order + 2):
        np.testing.assert_allclose(
            words_table(reference_of(approximation), length, vocab),
            words_table(reference_process(name), length, vocab),
            rtol=0,
            atol=1e-12,
        )


def test_the_even_process_is_not_markov_so_its_approximation_differs_one_token_later():
    approximation = markov_approximation(build_hidden_markov_model("even_ones"), 2)
    longer = words_table(reference_of(approximation), 4, 2)
    assert not np.allclose(longer, words_table(reference_process("even_ones"), 4, 2), atol=1e-6)
    assert approximation.presentation.num_states == 4  # every 2-word is possible (010 is the first impossible word)


@pytest.mark.parametrize("factor", [2, 3])
@pytest.mark.parametrize("name", ["mess3", "rrxor", "fanizza"])
def test_an_inflated_vocabulary_raises_every_myopic_entropy_by_log_of_its_factor(name, factor):
    inflated = inflate_vocabulary(build(name), factor)
    assert inflated.vocab_size == factor * build(name).vocab_size
    expected = myopic_entropies(reference_process(name), 6) + math.log(factor)
    np.testing.assert_allclose(myopic_entropies(reference_of(inflated), 6), expected, rtol=0, atol=1e-12)


def reaches_every_state(matrices: np.ndarray) -> bool:
    adjacency = (matrices.sum(axis=0) > 0).astype(np.int64)
    size = len(adjacency)
    reach = np.linalg.matrix_power(np.eye(size, dtype=np.int64) + adjacency, size)
    return bool(np.all(reach > 0))


@pytest.mark.parametrize(("num_states", "vocab_size", "seed"), list(itertools.product([5, 3], [2, 3], [0, 1, 2])))
def test_random_machines_are_unifilar_strongly_connected_and_minimal(num_states, vocab_size, seed):
    machine = random_epsilon_machine(num_states, vocab_size, seed)
    matrices = machine.presentation.transition_matrices
    assert matrices.shape == (vocab_size, num_states, num_states)
    assert np.all((matrices > 0).sum(axis=2) <= 1)  # unifilar: a state and a token fix the next state
    np.testing.assert_allclose(matrices.sum(axis=(0, 2)), 1.0, atol=1e-12)
    assert reaches_every_state(matrices)
    # Minimal: every two states give some word of at most num_states tokens different probabilities (Moore: two
    # states of a machine of n states that agree on every word of n - 1 tokens agree on every word).
    futures = [
        np.concatenate(
            [
                word_probabilities(Reference(matrices, np.eye(num_states)[state], np.ones(num_states)), length)
                for length in range(1, num_states + 1)
            ]
        )
        for state in range(num_states)
    ]
    for first, second in itertools.combinations(range(num_states), 2):
        assert np.max(np.abs(futures[first] - futures[second])) > 1e-9, (first, second)


def test_a_random_machine_is_a_function_of_its_seed():
    first, again, other = (random_epsilon_machine(5, 2, seed) for seed in (7, 7, 8))
    np.testing.assert_array_equal(first.presentation.transition_matrices, again.presentation.transition_matrices)
    assert not np.array_equal(first.presentation.transition_matrices, other.presentation.transition_matrices)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: markov_approximation(build_hidden_markov_model("mess3"), -1), "order=-1 must be a non-negative"),
        (lambda: inflate_vocabulary(build_hidden_markov_model("mess3"), 0), "factor=0 must be a positive integer"),
        (lambda: random_epsilon_machine(0, 2), "num_states=0 must be a positive integer"),
        (lambda: random_epsilon_machine(3, 1), "vocab_size=1 must be at least 2"),
    ],
)
def test_bad_arguments_are_refused_naming_them(call, message):
    with pytest.raises(ValueError, match=message):
        call()
