"""Synchronization measures against closed forms and brute-force enumeration written here.

The golden mean, even, zero-one-random and RRXOR presentations are their own epsilon-machines (unifilar and
minimal), so their hidden states are the causal states and words can be enumerated along them.
"""

import math

import numpy as np
import pytest

from simplexity.generative_processes import (
    HMM_PROCESSES,
    HiddenMarkovModel,
    InfiniteOrderError,
    SpecialTokenProcess,
    UnboundedMixedStatesError,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
    cryptic_order,
    crypticity,
    excess_entropy,
    markov_order,
    state_uncertainty,
    statistical_complexity,
    synchronization_information,
    transient_information,
)
from tests.generative_processes import reference

LN2 = math.log(2)
UNIFILAR = ["no_consecutive_ones", "even_ones", "zero_one_random", "rrxor"]


def binary_entropy(p: float) -> float:
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def reference_state_uncertainty(name: str, max_length: int, **params) -> np.ndarray:
    layers = reference.belief_layers(reference.reference_process(name, **params), max_length)
    return np.array([sum(p * reference.entropy_of(b) for b, p in layer.values()) for layer in layers])


def state_uncertainty_given_words(name: str, position: int, length: int) -> float:
    """`H[S_position | X_1..X_length]` in nats by enumerating every start state and word along a unifilar HMM."""
    ref = reference.reference_process(name)
    vocab, states = ref.matrices.shape[0], ref.matrices.shape[1]
    probability, state = ref.initial.copy(), np.arange(states)
    word, recorded = np.zeros(states, dtype=np.int64), np.arange(states)
    for step in range(length):
        if step == position:
            recorded = state.copy()
        emit = ref.matrices[:, state, :]  # (vocab, n, states)
        token_probability = emit.sum(axis=2)
        probability = (probability[None, :] * token_probability).reshape(-1)
        state = emit.argmax(axis=2).reshape(-1)
        word = (word[None, :] * vocab + np.arange(vocab)[:, None]).reshape(-1)
        recorded = np.tile(recorded, vocab)
        keep = probability > 0
        probability, state, word, recorded = probability[keep], state[keep], word[keep], recorded[keep]
    if position == length:
        recorded = state
    _, joint_index = np.unique(np.stack([word, recorded]), axis=1, return_inverse=True)
    _, word_index = np.unique(word, return_inverse=True)
    joint = np.bincount(joint_index.reshape(-1), weights=probability)
    words = np.bincount(word_index.reshape(-1), weights=probability)
    return reference.entropy_of(joint) - reference.entropy_of(words)


def test_golden_mean_closed_forms():
    golden = build_hidden_markov_model("no_consecutive_ones", p=0.5)
    uncertainty = state_uncertainty(golden, 5)
    assert uncertainty[0] == pytest.approx(binary_entropy(1 / 3), abs=1e-12)
    np.testing.assert_allclose(uncertainty[1:], 0.0, atol=1e-12)
    assert synchronization_information(golden).value == pytest.approx(binary_entropy(1 / 3), abs=1e-9)
    # chi = C - E = H(1/3) - (H(1/3) - 2/3 bit) = 2/3 bit; T = E for Markov order 1.
    assert crypticity(golden).value == pytest.approx(2 / 3 * LN2, abs=1e-6)
    assert markov_order(golden) == 1
    assert cryptic_order(golden) == 1
    excess = binary_entropy(1 / 3) - 2 / 3 * LN2
    assert transient_information(golden).value == pytest.approx(excess, abs=1e-6)


def test_even_process_has_infinite_markov_order_and_cryptic_order_zero():
    even = build_hidden_markov_model("even_ones", p=0.5)
    with pytest.raises(InfiniteOrderError, match=r"^even_ones: the Markov order is infinite"):
        markov_order(even)
    assert cryptic_order(even) == 0
    assert crypticity(even).value == pytest.approx(0.0, abs=1e-6)  # C = E = H(1/3)


@pytest.mark.parametrize("name", UNIFILAR)
def test_state_uncertainty_and_synchronization_information_match_enumeration(name):
    process = build_hidden_markov_model(name)
    expected = reference_state_uncertainty(name, 200)
    np.testing.assert_allclose(state_uncertainty(process, 30), expected[:31], rtol=0, atol=1e-12)
    estimate = synchronization_information(process)
    assert abs(estimate.value - expected.sum()) <= estimate.error_bound + 1e-12
    assert estimate.error_bound <= 1e-6


@pytest.mark.parametrize("name", UNIFILAR)
def test_markov_order_is_where_the_state_uncertainty_first_vanishes(name):
    process = build_hidden_markov_model(name)
    expected = reference_state_uncertainty(name, 40)
    vanished = np.flatnonzero(expected < 1e-12)
    if len(vanished):
        assert markov_order(process) == vanished[0]
    else:
        with pytest.raises(InfiniteOrderError, match=name):
            markov_order(process)


@pytest.mark.parametrize("name", UNIFILAR)
def test_cryptic_order_and_crypticity_match_the_state_uncertainty_given_the_future(name):
    process = build_hidden_markov_model(name)
    order = cryptic_order(process)
    # H[S_k | X_1..X_n] decreases in n to H[S_k | the whole future]: 0 at the cryptic order (the remaining
    # uncertainty shrinks geometrically), positive before it.
    shorter, longer = (state_uncertainty_given_words(name, order, n) for n in (18, 24))
    assert longer < 2e-3 or longer < shorter / 3
    if order > 0:
        assert state_uncertainty_given_words(name, order - 1, 24) > 0.05
    # chi = C - E = H[S_0 | the whole future].
    chi = crypticity(process)
    assert chi.value == pytest.approx(statistical_complexity(process) - excess_entropy(process), abs=1e-9)
    if order == 0:
        assert chi.value == pytest.approx(0.0, abs=chi.error_bound + 1e-9)
    else:
        assert state_uncertainty_given_words(name, 0, 24) == pytest.approx(chi.value, abs=2e-3)


def test_orders_of_known_processes():
    # Z1R: "10" leaves the phase open, every word of three tokens fixes it; C = E = log 3, so chi = 0.
    assert markov_order(build_hidden_markov_model("zero_one_random")) == 3
    assert cryptic_order(build_hidden_markov_model("zero_one_random")) == 0
    assert cryptic_order(build_hidden_markov_model("rrxor")) == 0


def test_mess3_state_uncertainty_matches_enumeration_and_never_vanishes():
    mess3 = build_hidden_markov_model("mess3")
    expected = reference_state_uncertainty("mess3", 8)
    np.testing.assert_allclose(state_uncertainty(mess3, 8), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"^mess3: the state uncertainty tends to .* never synchronizes"):
        synchronization_information(mess3)
    with pytest.raises(UnboundedMixedStatesError, match=r"^mess3: "):
        crypticity(mess3, max_states=500)


def test_mess3_transient_information_matches_enumeration():
    mess3 = build_hidden_markov_model("mess3")
    myopic = reference.myopic_entropies(reference.reference_process("mess3"), 10)
    lengths = np.arange(1, 11)
    # h(10) - h is about 2e-8 nats: taking h(10) for h leaves the sum low by about 1.1e-6, and less than 2e-6.
    expected = float(lengths @ (myopic - myopic[-1]))
    assert 0 < transient_information(mess3).value - expected < 2e-6


def test_state_measures_of_a_generalized_hmm_are_a_clear_error():
    fanizza = build_generalized_hidden_markov_model("fanizza")
    with pytest.raises(ValueError, match=r"^fanizza: the state uncertainty needs hidden states"):
        state_uncertainty(fanizza, 3)


def framed_by_a_start_state(name: str) -> HiddenMarkovModel:
    """The process as a plain HMM with one state before its own, left by a start token into the stationary state."""
    matrices = np.asarray(HMM_PROCESSES[name](), dtype=np.float64)
    vocab, states = matrices.shape[0], matrices.shape[1]
    stationary = reference.reference_process(name).initial
    framed = np.zeros((vocab + 1, states + 1, states + 1))
    framed[:vocab, 1:, 1:] = matrices
    framed[vocab, 0, 1:] = stationary
    return HiddenMarkovModel(framed, initial_state=np.eye(states + 1)[0], name=name + "+start")


@pytest.mark.parametrize("name", ["rrxor", "matching_parens"])
def test_a_process_framed_by_bos_synchronizes_with_the_inner_synchronization_information(name):
    # The observer knows the start (uncertainty 0), then the uncertainty jumps to H(pi) and decays to 0: the sum
    # is the inner process's, enumerated here.
    expected = reference_state_uncertainty(name, 300).sum()
    for framed in (SpecialTokenProcess(build_hidden_markov_model(name)), framed_by_a_start_state(name)):
        uncertainty = state_uncertainty(framed, 3)
        assert uncertainty[0] == 0.0 and uncertainty[1] > 1.0
        estimate = synchronization_information(framed)
        assert abs(estimate.value - expected) <= estimate.error_bound + 1e-12
        assert estimate.error_bound <= 1e-6


def test_crypticity_and_orders_of_a_bos_process_are_those_of_the_process_it_frames():
    z1r = SpecialTokenProcess(build_hidden_markov_model("zero_one_random"))
    # Z1R: C = E = log 3 (three phases, all told apart by the future), so chi = 0 where the cryptic order is 0.
    assert cryptic_order(z1r) == 0
    chi = crypticity(z1r)
    assert chi.value == pytest.approx(0.0, abs=chi.error_bound + 1e-12)
    # Markov order: the least R with h(R + 1) = h for the myopic entropies of the content tokens.
    myopic = reference.myopic_entropies(reference.reference_process("zero_one_random"), 8)
    first = int(np.flatnonzero(np.abs(myopic - LN2 / 3) < 1e-12)[0]) + 1
    assert markov_order(z1r) == first - 1 == 3
