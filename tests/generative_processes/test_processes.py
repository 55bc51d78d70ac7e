"""Every registered process: it builds, has a YAML, normalises, and its samplers draw its exact distribution."""

import functools
import inspect
import itertools
from typing import Any

import equinox as eqx
import hydra
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from omegaconf import OmegaConf

from simplexity.config import CONFIG_DIR as PACKAGE_CONFIG_DIR
from simplexity.generative_processes import (
    GHMM_PROCESSES,
    HMM_PROCESSES,
    AbstractGeneralizedHiddenMarkovModel,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
)

CONFIG_DIR = PACKAGE_CONFIG_DIR / "generative_process"
PROCESS_NAMES = [*HMM_PROCESSES, *GHMM_PROCESSES]
HMM_NAMES = list(HMM_PROCESSES)
NUM_SEQUENCES = 20_000
WORD_LEN = 3
IMPOSSIBLE = 1e-9  # a word this improbable (or float rounding of 0) must never be sampled
MIN_EXPECTED_COUNT = 5.0
Z_0999 = 3.09  # standard normal 0.999 quantile


def build(process_name: str, **params: Any) -> AbstractGeneralizedHiddenMarkovModel:
    if process_name in GHMM_PROCESSES:
        return build_generalized_hidden_markov_model(process_name, **params)
    return build_hidden_markov_model(process_name, **params)


@functools.cache
def default_process(process_name: str) -> AbstractGeneralizedHiddenMarkovModel:
    return build(process_name)


@eqx.filter_jit
def _generate(process, states, keys, sequence_len: int, return_all_states: bool):
    return process.generate(states, keys, sequence_len, return_all_states)


def sample(
    process: AbstractGeneralizedHiddenMarkovModel,
    count: int,
    length: int,
    return_all_states: bool,
    start: np.ndarray | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    start_state = process.initial_state if start is None else jnp.asarray(start, dtype=jnp.float32)
    states = jnp.broadcast_to(start_state, (count, process.num_states))
    keys = jax.random.split(jax.random.key(seed), count)
    states, tokens = _generate(process, states, keys, length, return_all_states)
    return np.asarray(states), np.asarray(tokens)


@functools.cache
def stationary_sample(process_name: str, return_all_states: bool) -> tuple[np.ndarray, np.ndarray]:
    """Cached so that each process and sampler is compiled and run once for the whole module."""
    return sample(default_process(process_name), NUM_SEQUENCES, WORD_LEN, return_all_states)


def all_words(vocab_size: int, length: int) -> np.ndarray:
    return np.array(list(itertools.product(range(vocab_size), repeat=length)), dtype=np.int32)


def exact_word_probabilities(process: AbstractGeneralizedHiddenMarkovModel, length: int) -> np.ndarray:
    """`P(w)` in float64 for every word of `length`, in `itertools.product` order, by a plain forward pass."""
    matrices = np.asarray(process.transition_matrices, dtype=np.float64)
    forward = np.asarray(process.initial_state, dtype=np.float64)[None, :]
    for _ in range(length):
        forward = np.einsum("wi,xij->wxj", forward, matrices).reshape(-1, process.num_states)
    return forward @ np.asarray(process.normalizing_eigenvector, dtype=np.float64)


def chi_square_quantile(dof: int, z: float = Z_0999) -> float:
    """Wilson-Hilferty approximation of the chi-square quantile whose standard normal quantile is `z`."""
    return dof * (1.0 - 2.0 / (9.0 * dof) + z * np.sqrt(2.0 / (9.0 * dof))) ** 3


def assert_matches_word_distribution(tokens: np.ndarray, probabilities: np.ndarray, vocab_size: int) -> None:
    """Pearson's chi-square test of the counts of every word against `probabilities`, at level 0.001."""
    indices = np.ravel_multi_index(tuple(tokens.T), (vocab_size,) * tokens.shape[1])
    counts = np.bincount(indices, minlength=len(probabilities))
    impossible = probabilities <= IMPOSSIBLE
    assert counts[impossible].sum() == 0, "sampled a word of probability 0"
    observed, expected = counts[~impossible], probabilities[~impossible] * len(tokens)
    # Pool the rarest words into one bin whose expected count is at least MIN_EXPECTED_COUNT.
    order = np.argsort(expected)
    observed, expected = observed[order], expected[order]
    num_pooled = int(np.sum(expected < MIN_EXPECTED_COUNT))
    if num_pooled:
        num_pooled = max(num_pooled, int(np.searchsorted(np.cumsum(expected), MIN_EXPECTED_COUNT)) + 1)
    bins_observed = np.append(observed[num_pooled:], observed[:num_pooled].sum())
    bins_expected = np.append(expected[num_pooled:], expected[:num_pooled].sum())
    if not num_pooled:
        bins_observed, bins_expected = bins_observed[:-1], bins_expected[:-1]
    statistic = np.sum((bins_observed - bins_expected) ** 2 / bins_expected)
    threshold = chi_square_quantile(len(bins_expected) - 1)
    assert statistic < threshold, (statistic, threshold, len(bins_expected))


@pytest.mark.parametrize("process_name", PROCESS_NAMES)
def test_yaml_lists_every_default_and_instantiates_the_process(process_name):
    process = default_process(process_name)
    config = OmegaConf.load(CONFIG_DIR / f"{process_name}.yaml")
    instance = hydra.utils.instantiate(config.instance)
    assert config.name == config.instance.process_name == process_name
    assert type(instance) is type(process)
    assert config.vocab_size == instance.vocab_size == process.vocab_size
    np.testing.assert_allclose(instance.transition_matrices, process.transition_matrices)
    params = OmegaConf.to_container(config.instance)
    assert isinstance(params, dict)
    del params["_target_"], params["process_name"]
    function = (HMM_PROCESSES | GHMM_PROCESSES)[process_name]
    defaults = {name: parameter.default for name, parameter in inspect.signature(function).parameters.items()}
    assert params == {name: list(value) if isinstance(value, tuple) else value for name, value in defaults.items()}


@pytest.mark.parametrize("process_name", PROCESS_NAMES)
def test_word_probabilities_are_non_negative_and_sum_to_one(process_name):
    process = default_process(process_name)
    words = all_words(process.vocab_size, 4)
    probabilities = np.asarray(process.probability(words), dtype=np.float64)
    assert probabilities.min() >= -1e-6
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-4)
    np.testing.assert_allclose(probabilities, exact_word_probabilities(process, 4), atol=1e-6)


SAMPLERS = [pytest.param(name, True, id=f"{name}-beliefs") for name in PROCESS_NAMES] + [
    pytest.param(name, False, id=f"{name}-hidden-chain") for name in HMM_NAMES
]


@pytest.mark.parametrize(("process_name", "return_all_states"), SAMPLERS)
def test_sampled_words_follow_the_exact_distribution(process_name, return_all_states):
    process = default_process(process_name)
    _, tokens = stationary_sample(process_name, return_all_states)
    assert tokens.shape == (NUM_SEQUENCES, WORD_LEN)
    assert_matches_word_distribution(tokens, exact_word_probabilities(process, WORD_LEN), process.vocab_size)


@pytest.mark.parametrize("process_name", PROCESS_NAMES)
def test_tracked_beliefs_stay_normalised(process_name):
    process = default_process(process_name)
    beliefs, _ = stationary_sample(process_name, True)
    assert beliefs.shape == (NUM_SEQUENCES, WORD_LEN, process.num_states)
    np.testing.assert_allclose(beliefs @ np.asarray(process.normalizing_eigenvector), 1.0, rtol=1e-4)
    if process_name in HMM_PROCESSES:
        assert beliefs.min() >= 0.0
        np.testing.assert_allclose(beliefs.sum(axis=-1), 1.0, atol=1e-5)


def unifilar_entropy_rate(process: AbstractGeneralizedHiddenMarkovModel) -> float:
    """Entropy rate in bits, `sum_i pi_i H(T[:, i, :])`; exact for unifilar presentations only."""
    matrices = np.asarray(process.transition_matrices, dtype=np.float64)
    outcomes = matrices.transpose(1, 0, 2).reshape(process.num_states, -1)
    logs = np.log2(np.where(outcomes > 0, outcomes, 1.0))
    return float(np.asarray(process.initial_state) @ -(outcomes * logs).sum(axis=1))


@pytest.mark.parametrize(
    ("process_name", "entropy_rate"),
    [("even_ones", 2 / 3), ("no_consecutive_ones", 2 / 3), ("rrxor", 2 / 3), ("zero_one_random", 1 / 3)],
)
def test_entropy_rates_of_unifilar_processes(process_name, entropy_rate):
    assert unifilar_entropy_rate(default_process(process_name)) == pytest.approx(entropy_rate, abs=1e-5)


def test_stationary_distributions_match_the_literature():
    np.testing.assert_allclose(default_process("rrxor").initial_state, np.array([2, 1, 1, 1, 1]) / 6, atol=1e-6)
    pi = np.asarray(default_process("zero_one_random").initial_state, dtype=np.float64)
    assert -(pi * np.log2(pi)).sum() == pytest.approx(np.log2(3), abs=1e-5)


def test_no_consecutive_ones_never_emits_two_ones_in_a_row():
    _, tokens = sample(default_process("no_consecutive_ones"), 256, 64, return_all_states=False)
    assert np.any(tokens == 1)
    assert not np.any((tokens[:, 1:] == 1) & (tokens[:, :-1] == 1))


def test_even_ones_blocks_of_ones_between_zeros_are_even():
    _, tokens = sample(default_process("even_ones"), 256, 64, return_all_states=False)
    block_lengths = [
        len(block) for row in tokens for block in "".join(map(str, row)).split("0")[1:-1]
    ]  # blocks bounded by a 0 on both sides
    assert max(block_lengths) > 0
    assert all(length % 2 == 0 for length in block_lengths)


def test_matching_parens_depth_stays_within_bounds():
    process = default_process("matching_parens")
    max_depth = process.num_states - 1
    _, tokens = sample(process, 256, 64, return_all_states=False, start=np.eye(process.num_states)[0])
    depths = np.cumsum(np.where(tokens == 0, 1, -1), axis=1)
    assert depths.min() == 0
    assert depths.max() == max_depth


def test_days_of_week_rows_normalise_and_favour_tomorrow():
    matrices = np.asarray(default_process("days_of_week").transition_matrices, dtype=np.float64)
    monday, tuesday, saturday, sunday = 0, 1, 5, 6
    tomorrow, yesterday, weekend, weekday = 7, 8, 9, 10
    np.testing.assert_allclose(matrices.sum(axis=(0, 2)), 1.0, atol=1e-6)
    # Every day's unnormalised weights sum to 7 + 4 (tomorrow's name) + 4 (Tmrw, Yest, Wknd, Wkdy) = 15.
    assert matrices[tuesday, monday, tuesday] == pytest.approx(5 / 15)
    assert matrices[saturday, monday, saturday] == pytest.approx(1 / 15)
    assert matrices[tomorrow, sunday, monday] == pytest.approx(1 / 15)
    assert matrices[yesterday, monday, sunday] == pytest.approx(1 / 15)
    assert matrices[weekend, monday, saturday] == pytest.approx(1 / 30)
    assert matrices[weekday, sunday, tuesday] == pytest.approx(1 / 75)
    assert matrices[weekday, monday, saturday] == 0.0


def test_mr_name_token_names_the_next_state():
    matrices = np.asarray(default_process("mr_name").transition_matrices)
    token, _, next_state = np.nonzero(matrices)
    np.testing.assert_array_equal(token, next_state)


BAD_PARAMS = [
    ("mess3", {"a": 1.5}),
    ("coin", {"p": 1.5}),
    ("even_ones", {"p": -0.1}),
    ("no_consecutive_ones", {"p": 2.0}),
    ("mr_name", {"q": -0.25}),
    ("mr_name", {"p": 0.8, "q": 0.3}),
    ("rrxor", {"pR2": -0.5}),
    ("leaky_rrxor", {"epsilon": 1.5}),
    ("sns", {"q": 1.1}),
    ("zero_one_random", {"p": -1.0}),
    ("random_insertion", {"p": 1.5}),
    ("random_insertion", {"q": -0.5}),
    ("matching_parens", {"open_probs": [0.5, 0.5]}),
    ("matching_parens", {"open_probs": [1.0, 0.0]}),
    ("fanizza", {"lamb": 1.0}),
    ("post_quantum", {"log_alpha": -1.0}),
    ("post_quantum", {"beta": 1.5}),
    ("post_quantum", {"log_alpha": float(np.log(1.5)), "beta": 0.5}),  # alpha + beta = 2
    ("post_quantum", {"log_alpha": float(2 * np.log(2)), "beta": 0.5}),  # ln(alpha) / ln(beta) = -2
    ("tom_quantum", {"alpha": 0.0, "beta": 0.0}),
]


@pytest.mark.parametrize(("process_name", "params"), BAD_PARAMS)
def test_bad_parameters_are_named_with_their_value(process_name, params):
    with pytest.raises(ValueError) as error:
        build(process_name, **params)
    message = str(error.value)
    assert process_name in message
    for name, value in params.items():
        assert f"{name}={value}" in message


def test_every_process_with_parameters_has_a_bad_parameter_case():
    registry = HMM_PROCESSES | GHMM_PROCESSES
    with_parameters = {name for name, function in registry.items() if inspect.signature(function).parameters}
    assert with_parameters <= {process_name for process_name, _ in BAD_PARAMS}


def test_unknown_parameter_is_named():
    with pytest.raises(ValueError, match=r"days_of_week: .*'p'"):
        build_hidden_markov_model("days_of_week", p=0.5)


@pytest.mark.parametrize("builder", [build_hidden_markov_model, build_generalized_hidden_markov_model])
def test_unknown_process_is_rejected(builder):
    with pytest.raises(ValueError, match=r"process_name='nope'.*allowed: .*even_ones"):
        builder("nope")
