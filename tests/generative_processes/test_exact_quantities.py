"""Exact quantities of every registered process against float64 references written in `reference.py`."""

import functools
import math

import equinox as eqx
import hydra
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from omegaconf import OmegaConf

from simplexity.generative_processes import (
    GHMM_PROCESSES,
    HMM_PROCESSES,
    SpecialTokenProcess,
    UnboundedMixedStatesError,
    block_entropy,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
    cryptic_order,
    crypticity,
    entropy_rate,
    estimate_entropy_rate,
    estimate_excess_entropy,
    excess_entropy,
    markov_order,
    myopic_entropy,
    state_uncertainty,
    statistical_complexity,
    synchronization_information,
    to_bits,
    transient_information,
)
from tests.generative_processes import reference
from tests.generative_processes.test_processes import CONFIG_DIR

PROCESS_NAMES = [*HMM_PROCESSES, *GHMM_PROCESSES]
# Processes whose mixed states grow too fast for the convergence rule to reach 1e-8 within the layer limit:
# their myopic entropies are checked as far as they can be enumerated.
ENUMERABLE_LENGTH = {"tom_quantum": 11, "leaky_rrxor": 20}
MOST_WORDS = 2_000_000


@functools.cache
def process(name: str):
    return build_generalized_hidden_markov_model(name) if name in GHMM_PROCESSES else build_hidden_markov_model(name)


@eqx.filter_jit
def _sample(process, key, length: int):
    return process.generate(process.initial_state[None, :], key[None], length)[1][0]


@pytest.mark.parametrize("name", PROCESS_NAMES)
def test_log_probability_of_long_samples_matches_a_float64_forward_pass(name):
    tokens = np.asarray(_sample(process(name), jax.random.key(7), 100_000))
    expected = reference.reference_process(name)
    for length in (10_000, 100_000):
        sample = tokens[:length]
        library = float(process(name).log_probability(sample))
        assert np.isfinite(library)
        assert library == pytest.approx(reference.forward_log_probability(expected, sample), abs=1e-3)


@pytest.mark.parametrize("name", PROCESS_NAMES)
def test_myopic_entropies_never_increase_and_match_brute_force_enumeration(name):
    proc = process(name)
    if name in ENUMERABLE_LENGTH:
        myopic = myopic_entropy(proc, ENUMERABLE_LENGTH[name])
    else:
        myopic = myopic_entropy(proc, 40, tolerance=1e-8)
    assert np.all(np.diff(myopic) <= 1e-13), np.diff(myopic).max()
    # Brute force: block entropies from the probability of every word, up to length 10 where that is feasible.
    expected = reference.reference_process(name)
    longest = min(10, int(math.log(MOST_WORDS) / math.log(proc.vocab_size)))
    blocks = [0.0] + [reference.entropy_of(reference.word_probabilities(expected, n)) for n in range(1, longest + 1)]
    np.testing.assert_allclose(to_bits(myopic[:longest]), to_bits(np.diff(blocks)), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ["days_of_week", "mess3", "sns", "post_quantum"])
def test_myopic_entropies_match_the_merged_belief_reference_to_long_lengths(name):
    length = 10 if name == "mess3" else 60
    expected = reference.myopic_entropies(reference.reference_process(name), length)
    np.testing.assert_allclose(to_bits(myopic_entropy(process(name), length)), to_bits(expected), rtol=0, atol=1e-9)


def test_fanizza_entropy_rate_and_excess_entropy_match_a_long_length_reference():
    fanizza = process("fanizza")
    long_myopic = reference.myopic_entropies(reference.reference_process("fanizza"), 200)
    rate = long_myopic[-1]  # h(200) - h is below 0.49**200
    excess = float(np.sum(long_myopic - rate))
    assert to_bits(entropy_rate(fanizza)) == pytest.approx(to_bits(rate), abs=1e-6)
    assert to_bits(excess_entropy(fanizza)) == pytest.approx(to_bits(excess), abs=1e-5)
    # The plateau of h(15) to h(16) does not end the sum: the estimate's own bound holds.
    estimate = estimate_entropy_rate(fanizza)
    assert abs(estimate.value - rate) <= estimate.error_bound
    assert estimate.length > 16
    assert abs(estimate_excess_entropy(fanizza).value - excess) <= estimate_excess_entropy(fanizza).error_bound


def test_the_entropy_rate_of_a_nonunifilar_process_stays_within_its_bound():
    sns = process("sns")
    rate = reference.myopic_entropies(reference.reference_process("sns"), 120)[-1]
    for tolerance in (1e-6, 1e-8, 1e-10):
        estimate = estimate_entropy_rate(sns, tolerance=tolerance)
        assert 0 < estimate.error_bound <= tolerance
        assert abs(estimate.value - rate) <= estimate.error_bound + 1e-13


def test_tom_quantum_default_is_not_a_first_order_markov_chain():
    myopic = myopic_entropy(process("tom_quantum"), 4)
    assert myopic[2] < myopic[1] - 1e-3  # a first-order chain has h(3) == h(2)
    degenerate = build_generalized_hidden_markov_model("tom_quantum", alpha=1.0, beta=1.0)
    flat = myopic_entropy(degenerate, 4)
    assert flat[3] == pytest.approx(flat[1], abs=1e-12)


def test_post_quantum_default_is_the_reference_data_setting():
    expected = build_generalized_hidden_markov_model("post_quantum", log_alpha=math.log(2.7), beta=0.5)
    np.testing.assert_array_equal(
        process("post_quantum").presentation.transition_matrices, expected.presentation.transition_matrices
    )


def test_leaky_rrxor_puts_epsilon_over_ten_on_every_transition():
    matrices = process("leaky_rrxor").presentation.transition_matrices
    rrxor = process("rrxor").presentation.transition_matrices
    np.testing.assert_allclose(matrices, 0.9 * rrxor + 0.01, rtol=0, atol=1e-15)
    assert matrices.min() > 0


@pytest.fixture(scope="module")
def mess3_bos():
    config = OmegaConf.load(CONFIG_DIR / "mess3_bos.yaml")
    return hydra.utils.instantiate(config.instance)


def test_every_information_function_accepts_a_bos_process(mess3_bos):
    assert isinstance(mess3_bos, SpecialTokenProcess)
    inner = mess3_bos.process
    inner_myopic = myopic_entropy(inner, 9)
    myopic = myopic_entropy(mess3_bos, 10)
    assert myopic[0] == 0.0
    np.testing.assert_allclose(myopic[1:], inner_myopic, rtol=0, atol=1e-14)
    np.testing.assert_allclose(block_entropy(mess3_bos, 10)[2:], block_entropy(inner, 9)[1:], rtol=0, atol=1e-12)
    # Each estimate is within its default tolerance (1e-7 nats for h, 1e-6 for E and T): the bounds add up.
    rate, inner_excess = entropy_rate(inner), excess_entropy(inner)
    assert entropy_rate(mess3_bos) == pytest.approx(rate, abs=2e-7)
    # E and T of a framed process are the framed one's: sums over the content tokens after BOS.
    assert excess_entropy(mess3_bos) == inner_excess
    assert transient_information(mess3_bos).value == transient_information(inner).value
    uncertainty = state_uncertainty(mess3_bos, 4)
    np.testing.assert_allclose(uncertainty[1:], state_uncertainty(inner, 3), rtol=0, atol=1e-12)
    assert uncertainty[0] == 0.0
    with pytest.raises(ValueError, match=r"^mess3: the state uncertainty tends to"):
        synchronization_information(mess3_bos)
    for infinite in (statistical_complexity, crypticity, markov_order, cryptic_order):
        with pytest.raises(UnboundedMixedStatesError, match=r"^mess3: "):
            infinite(mess3_bos, max_states=200)
    tokens = np.array([3, 0, 1, 2, 2])
    assert float(mess3_bos.log_probability(tokens)) == pytest.approx(
        float(inner.log_probability(tokens[1:])), abs=1e-12
    )
    assert float(mess3_bos.log_probability(tokens[1:])) == -np.inf  # no BOS


def test_every_information_function_accepts_the_mixture():
    config = OmegaConf.load(CONFIG_DIR / "mixture_golden_mean_zero_one_random.yaml")
    mixture = hydra.utils.instantiate(config.instance)
    golden, z1r = process("no_consecutive_ones"), process("zero_one_random")
    # Each sequence is one component's: the rate and the myopic entropies are the weighted averages.
    assert entropy_rate(mixture) == pytest.approx(0.5 * entropy_rate(golden) + 0.5 * entropy_rate(z1r), abs=1e-12)
    np.testing.assert_allclose(
        myopic_entropy(mixture, 6)[1:],
        0.5 * myopic_entropy(golden, 6)[1:] + 0.5 * myopic_entropy(z1r, 6)[1:],
        rtol=0,
        atol=1e-12,
    )
    # The first token tells the components apart (disjoint tokens): E adds the bit of which component.
    expected_excess = 0.5 * excess_entropy(golden) + 0.5 * excess_entropy(z1r) + math.log(2)
    assert excess_entropy(mixture) == pytest.approx(expected_excess, abs=1e-6)
    assert statistical_complexity(mixture) > statistical_complexity(golden)
    assert transient_information(mixture).value > 0
    assert state_uncertainty(mixture, 3)[-1] == pytest.approx(0.0, abs=1e-12)
    # Likewise for the synchronization measures: the component is known after one token.
    sync = synchronization_information(mixture).value
    expected_sync = math.log(2) + 0.5 * synchronization_information(golden).value
    assert sync == pytest.approx(expected_sync + 0.5 * synchronization_information(z1r).value, abs=3e-6)
    assert crypticity(mixture).value == pytest.approx(0.5 * crypticity(golden).value, abs=3e-6)  # chi(Z1R) = 0
    assert markov_order(mixture) == max(markov_order(golden), markov_order(z1r)) == 3
    assert cryptic_order(mixture) == max(cryptic_order(golden), cryptic_order(z1r)) == 1


def test_float64_whatever_the_training_dtype():
    mess3 = process("mess3")
    assert mess3.presentation.transition_matrices.dtype == np.float64
    assert mess3.transition_matrices.dtype == jnp.float32
    assert np.asarray(mess3.log_probability(np.array([0, 1, 2]))).dtype == np.float64
