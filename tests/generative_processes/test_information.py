import itertools
import math

import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.generative_processes import (
    UnboundedMixedStatesError,
    block_entropy,
    build_hidden_markov_model,
    entropy_rate,
    excess_entropy,
    myopic_entropy,
    statistical_complexity,
    to_bits,
)


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
