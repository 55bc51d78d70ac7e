"""Excess entropy from the bidirectional machine against closed forms, and against the sum of myopic entropies."""

import math

import numpy as np
import pytest

from simplexity.generative_processes import (
    HiddenMarkovModel,
    build_hidden_markov_model,
    estimate_excess_entropy,
    statistical_complexity,
    stored_information,
    time_reverse,
)
from tests.generative_processes import reference

LOG2, LOG3 = math.log(2), math.log(3)


@pytest.mark.parametrize(
    ("name", "closed_form"),
    [
        # E = C = H(1/3, 2/3): the even process's future fixes its causal state.
        ("even_ones", LOG3 - 2 / 3 * LOG2),
        # Markov order 1: E = H(1) - h = H(1/3, 2/3) - (2/3) log 2.
        ("no_consecutive_ones", LOG3 - 4 / 3 * LOG2),
        # Not cryptic: E = C = H(1/6, 1/6, 1/3, 1/6, 1/6) = log 3 + (2/3) log 2 (2.2516 bits).
        ("rrxor", LOG3 + 2 / 3 * LOG2),
        # Period 3 with a random phase: E = C = log 3.
        ("zero_one_random", LOG3),
    ],
)
def test_the_exact_excess_entropy_equals_the_closed_form(name, closed_form):
    process = build_hidden_markov_model(name)
    stored = stored_information(process)
    assert stored.excess_entropy == pytest.approx(closed_form, abs=1e-12)
    estimate = estimate_excess_entropy(process)
    assert estimate.value == stored.excess_entropy and estimate.error_bound == 0.0


def random_insertion_process() -> HiddenMarkovModel:
    """The random insertion process: A emits a fair bit (0 to B, 1 to C); B emits a fair bit to A; C emits 1 to A."""
    matrices = np.zeros((2, 3, 3))
    matrices[0, 0, 1] = matrices[1, 0, 2] = 0.5
    matrices[0, 1, 0] = matrices[1, 1, 0] = 0.5
    matrices[1, 2, 0] = 1.0
    return HiddenMarkovModel(matrices, name="random_insertion")


def test_a_process_whose_reverse_stores_less_keeps_its_excess_entropy_both_ways():
    process = random_insertion_process()
    stored = stored_information(process)
    assert stored.forward_complexity == pytest.approx(1.5 * LOG2, abs=1e-12)  # H(1/2, 1/4, 1/4)
    # The process is i.i.d. two-token blocks 00, 01, 11 (probabilities 1/4, 1/4, 1/2) at a random phase; read
    # backwards the blocks are 00, 10, 11. The reverse machine: at a block start (probability 1/2) emit 0 (1/4), to
    # a state that must emit 0 (1/8), or 1 (3/4), to a state that emits 0 with probability 1/3 (3/8). So
    # C- = H(1/2, 3/8, 1/8).
    reverse_states = np.array([1 / 2, 3 / 8, 1 / 8])
    assert stored.reverse_complexity == pytest.approx(float(-reverse_states @ np.log(reverse_states)), abs=1e-12)
    assert stored.reverse_complexity == pytest.approx(statistical_complexity(time_reverse(process)), abs=1e-12)
    assert stored.reverse_complexity < stored.forward_complexity - 0.05  # the reverse needs fewer states' worth
    reversed_stored = stored_information(time_reverse(process))
    assert reversed_stored.excess_entropy == pytest.approx(stored.excess_entropy, abs=1e-12)
    # The sum of myopic entropies from the forward pass written from the definitions (h(L) reaches h = 2/3 bit
    # geometrically; 200 terms leave less than 1e-12).
    rate = reference.myopic_entropies(
        reference.Reference(process.presentation.transition_matrices, process.presentation.initial_state, np.ones(3)),
        200,
    )
    summed = float(np.sum(rate - rate[-1]))
    assert stored.excess_entropy == pytest.approx(summed, abs=1e-9)
    assert stored.forward_crypticity == pytest.approx(stored.forward_complexity - stored.excess_entropy)
    assert stored.reverse_crypticity > 0 and stored.forward_crypticity > stored.reverse_crypticity


def test_the_golden_mean_forward_crypticity_is_its_entropy_rate():
    stored = stored_information(build_hidden_markov_model("no_consecutive_ones"))
    assert stored.forward_crypticity == pytest.approx(2 / 3 * LOG2, abs=1e-12)  # C - E = h for Markov order 1
