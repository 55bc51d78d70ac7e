import itertools
import math

import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.generative_processes import (
    SpecialTokenProcess,
    UnboundedMixedStatesError,
    block_entropy,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
    entropy_rate,
    estimate_entropy_rate,
    estimate_excess_entropy,
    estimate_statistical_complexity,
    excess_entropy,
    myopic_entropy,
    statistical_complexity,
    to_bits,
    transient_information,
)
from tests.generative_processes import reference


def binary_entropy_bits(p: float) -> float:
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


@pytest.mark.parametrize(
    ("name", "params", "rate_bits", "complexity_bits"),
    [
        ("no_consecutive_ones", {"p": 0.5}, 2 / 3, binary_entropy_bits(2 / 3)),
        ("even_ones", {"p": 0.5}, 2 / 3, binary_entropy_bits(2 / 3)),
        ("zero_one_random", {"p": 0.5}, 1 / 3, math.log2(3)),
        ("coin", {"p": 0.3}, binary_entropy_bits(0.3), 0.0),
    ],
)
def test_published_closed_forms(name, params, rate_bits, complexity_bits):
    process = build_hidden_markov_model(name, **params)
    assert to_bits(entropy_rate(process)) == pytest.approx(rate_bits, abs=1e-6)
    assert to_bits(statistical_complexity(process)) == pytest.approx(complexity_bits, abs=1e-6)


def test_rrxor_entropy_rate_is_two_thirds_bit():
    assert to_bits(entropy_rate(build_hidden_markov_model("rrxor", pR1=0.5, pR2=0.5))) == pytest.approx(2 / 3, abs=1e-6)


def test_golden_mean_excess_entropy():
    # E = H(2/3, 1/3) - 2 h for the golden mean process at p = 1/2 (Markov order 1): 0.9183 - 0.6667 bit.
    process = build_hidden_markov_model("no_consecutive_ones", p=0.5)
    assert to_bits(excess_entropy(process)) == pytest.approx(binary_entropy_bits(2 / 3) - 2 / 3, abs=1e-6)


def test_even_process_excess_entropy_equals_its_statistical_complexity():
    process = build_hidden_markov_model("even_ones", p=0.5)
    assert to_bits(excess_entropy(process)) == pytest.approx(binary_entropy_bits(2 / 3), abs=1e-5)


def test_myopic_entropy_of_even_process_converges_from_above_to_the_entropy_rate():
    process = build_hidden_markov_model("even_ones", p=0.5)
    myopic = myopic_entropy(process, 60)
    assert myopic[0] == pytest.approx(math.log(2) * binary_entropy_bits(1 / 3), abs=1e-9)
    assert np.all(np.diff(myopic) <= 1e-12)
    assert myopic[-1] == pytest.approx(entropy_rate(process), abs=1e-7)
    assert myopic[-1] > entropy_rate(process)


def test_mess3_entropy_rate_is_the_limit_of_its_myopic_entropies():
    process = build_hidden_markov_model("mess3", x=0.15, a=0.6)
    myopic = myopic_entropy(process, 10)
    assert myopic[0] == pytest.approx(math.log(3), abs=1e-6)
    assert np.all(np.diff(myopic) < 0)
    assert entropy_rate(process) == pytest.approx(1.08889, abs=1e-5)


def test_statistical_complexity_of_an_infinite_presentation_is_a_clear_error():
    with pytest.raises(UnboundedMixedStatesError, match="max_states=500"):
        statistical_complexity(build_hidden_markov_model("mess3"), max_states=500)


@pytest.mark.parametrize("name", ["mess3", "sns", "rrxor"])
def test_block_entropy_matches_word_probabilities(name):
    process = build_hidden_markov_model(name)
    length = 4
    words = jnp.array(list(itertools.product(range(process.vocab_size), repeat=length)))
    probabilities = np.asarray(process.probability(words), dtype=np.float64)
    positive = probabilities[probabilities > 0]
    brute_force = -np.sum(positive * np.log(positive))
    assert block_entropy(process, length)[-1] == pytest.approx(brute_force, abs=1e-5)


@pytest.mark.parametrize("name", ["zero_one_random", "rrxor"])
def test_excess_entropy_and_transient_information_of_a_bos_process_are_the_inner_sums(name):
    framed = SpecialTokenProcess(build_hidden_markov_model(name))
    # Both are unifilar with rate 1/3 and 2/3 bit; their myopic entropies reach it exactly (Z1R, from h(4)) or
    # geometrically (RRXOR, below 1e-15 by h(300)), so the sums over the content tokens are enumerated here
    # (300 terms: their rounding adds up to about 1e-12).
    rate = math.log(2) * (1 / 3 if name == "zero_one_random" else 2 / 3)
    myopic = reference.myopic_entropies(reference.reference_process(name), 300)
    excess_terms = myopic - rate
    expected_excess = float(excess_terms.sum())
    expected_transient = float(np.arange(1, 301) @ excess_terms)
    excess = estimate_excess_entropy(framed)
    assert excess.value > 0
    assert abs(excess.value - expected_excess) <= excess.error_bound + 1e-10
    transient = transient_information(framed)
    assert abs(transient.value - expected_transient) <= transient.error_bound + 1e-9
    if name == "zero_one_random":
        assert excess.value == pytest.approx(math.log(3), abs=1e-12)  # E = C = log 3: the phase


def causal_state_probabilities(name: str, count: int) -> np.ndarray:
    """`P(S = 0 1^n)`, `n < count`: the causal state is the number of 1s since the last 0 (sns, fanizza)."""
    process = reference.reference_process(name)
    row = process.initial @ process.matrices[0]
    probabilities = []
    for _ in range(count):
        probabilities.append(float(row @ process.right))
        row = row @ process.matrices[1]
    return np.array(probabilities)


@pytest.mark.parametrize(("name", "bits"), [("sns", 2.7115), ("fanizza", 1.9260)])
def test_statistical_complexity_of_countably_many_causal_states_by_direct_summation(name, bits):
    # Token 0 sends sns to A and resets fanizza's state: after it, the count of 1s is the causal state, and
    # every count predicts a different future. The stationary probabilities are summed until below 1e-30.
    probabilities = causal_state_probabilities(name, 200)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-12)
    expected = reference.entropy_of(probabilities)
    build = build_generalized_hidden_markov_model if name == "fanizza" else build_hidden_markov_model
    estimate = estimate_statistical_complexity(build(name))
    assert 0 < estimate.error_bound <= 1e-7
    assert abs(estimate.value - expected) <= estimate.error_bound + 1e-12
    assert to_bits(expected) == pytest.approx(bits, abs=5e-5)


def test_the_entropy_rate_of_a_slowly_mixing_mess3_is_bracketed_to_the_default_tolerance():
    # Its mixed states triple per token while h(L) - h shrinks by about 0.26: the geometric rule would need 17
    # lengths. The rate lies between h(L) and H(X_L | X_1..X_{L-1}, S_1), the entropy given the first hidden
    # state, both computed here from every word's probability at L = 11 and 12 (Cover and Thomas, Thm 4.5.1).
    process = reference.reference_process("mess3", x=0.05, a=0.85)

    def myopic(start: np.ndarray, length: int) -> float:
        started = reference.Reference(process.matrices, start, process.right)
        blocks = [reference.entropy_of(reference.word_probabilities(started, n)) for n in (length - 1, length)]
        return blocks[1] - blocks[0]

    starts = np.eye(3)
    upper = myopic(process.initial, 12)
    lower = sum(process.initial[s] * myopic(starts[s], 12) for s in range(3))
    assert 0 < upper - lower < 2e-7
    estimate = estimate_entropy_rate(build_hidden_markov_model("mess3", x=0.05, a=0.85))
    assert estimate.error_bound <= 1e-7
    assert lower - 1e-10 <= estimate.value - estimate.error_bound
    assert estimate.value + estimate.error_bound <= upper + 1e-10


@pytest.mark.parametrize(
    ("name", "params", "limit"),
    [
        ("mess3", {"x": 0.05, "a": 0.85}, estimate_excess_entropy),
        ("leaky_rrxor", {}, estimate_entropy_rate),
        ("leaky_rrxor", {}, estimate_excess_entropy),
        ("tom_quantum", {}, estimate_entropy_rate),
        ("tom_quantum", {}, estimate_excess_entropy),
        ("mess3", {"x": 0.05, "a": 0.85}, transient_information),
        ("leaky_rrxor", {}, transient_information),
        ("tom_quantum", {}, transient_information),
    ],
)
def test_a_limit_out_of_reach_fails_at_once_naming_the_reachable_tolerance(name, params, limit):
    build = build_generalized_hidden_markov_model if name == "tom_quantum" else build_hidden_markov_model
    pattern = rf"^{name}: .* out of reach at tolerance=1e-0\d: .* use tolerance >= "
    with pytest.raises(ValueError, match=pattern) as error:
        limit(build(name, **params))
    assert "\n" not in str(error.value)
    assert f"{name}: {limit.__name__.removeprefix('estimate_').replace('_', ' ')} out of reach" in str(error.value)
    reachable = float(str(error.value).rsplit(">= ", 1)[1])
    assert reachable > (1e-7 if limit is estimate_entropy_rate else 1e-6)
