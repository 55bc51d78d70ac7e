"""Products of independent processes, against a Kronecker-product presentation and word enumeration built here."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.experiment import training_entropy_rate
from simplexity.generative_processes import (
    FactoredProcess,
    HiddenMarkovModel,
    SpecialTokenProcess,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
    entropy_rate,
    excess_entropy,
    myopic_entropy,
)
from simplexity.training import optimal_loss_per_position


def product_by_loops(factors):
    """The joint matrices, start and normalising vector, looping over every tuple of factor tokens."""
    presentations = [f.presentation for f in factors]
    vocab_sizes = [p.vocab_size for p in presentations]
    matrices = []
    for tokens in itertools.product(*(range(v) for v in vocab_sizes)):  # radix order, first factor slowest
        matrix = np.ones((1, 1))
        for presentation, token in zip(presentations, tokens, strict=True):
            matrix = np.kron(matrix, presentation.transition_matrices[token])
        matrices.append(matrix)
    start, normalizer = np.ones(1), np.ones(1)
    for presentation in presentations:
        start = np.kron(start, presentation.initial_state)
        normalizer = np.kron(normalizer, presentation.normalizing_eigenvector)
    return np.array(matrices), start, normalizer


def word_probability(matrices, start, normalizer, word) -> float:
    vector = start
    for token in word:
        vector = vector @ matrices[token]
    return float(vector @ normalizer)


def block_entropies(matrices, start, normalizer, max_length) -> np.ndarray:
    """`H(X_1..X_L)` for `L = 0..max_length` by summing over every word."""
    values = [0.0]
    for length in range(1, max_length + 1):
        probabilities = np.array(
            [
                word_probability(matrices, start, normalizer, w)
                for w in itertools.product(range(len(matrices)), repeat=length)
            ]
        )
        probabilities = probabilities[probabilities > 0]
        values.append(float(-(probabilities * np.log(probabilities)).sum()))
    return np.array(values)


@pytest.fixture(scope="module", params=["hmm", "ghmm"])
def product(request):
    if request.param == "hmm":
        factors = [
            build_hidden_markov_model("mess3", x=0.15, a=0.6),
            build_hidden_markov_model("no_consecutive_ones", p=0.5),
        ]
    else:
        factors = [
            build_generalized_hidden_markov_model("tom_quantum", alpha=1.0, beta=3.0),
            build_hidden_markov_model("even_ones", p=0.5),
        ]
    process = FactoredProcess(factors)
    return process, product_by_loops(factors)


@pytest.fixture(scope="module")
def words(product):
    """Words the process can emit (sampled), then words of uniformly random tokens, some of them impossible."""
    process, _ = product
    starts = jnp.broadcast_to(process.initial_state, (32, process.num_states))
    _, sampled = process.generate(starts, jax.random.split(jax.random.key(2), 32), 7)
    return np.concatenate([np.asarray(sampled), np.random.default_rng(0).integers(0, process.vocab_size, size=(32, 7))])


def test_tokens_are_the_factors_tokens_in_radix_order(product):
    process, (matrices, _, _) = product
    sizes = process.factor_vocab_sizes
    assert process.vocab_size == len(matrices) == int(np.prod(sizes))
    tuples = list(itertools.product(*(range(v) for v in sizes)))
    joint = np.arange(process.vocab_size)
    assert [tuple(int(t[i]) for t in process.factor_tokens(joint)) for i in joint] == tuples
    assert np.array_equal(process.joint_tokens(process.factor_tokens(joint)), joint)


def test_the_presentation_is_the_kronecker_product(product):
    process, (matrices, start, normalizer) = product
    np.testing.assert_allclose(process.presentation.transition_matrices, matrices, rtol=0, atol=1e-15)
    np.testing.assert_allclose(process.presentation.initial_state, start, rtol=0, atol=1e-15)
    np.testing.assert_allclose(process.presentation.normalizing_eigenvector, normalizer, rtol=0, atol=1e-15)


def test_log_probabilities_equal_the_joint_matrix_products(product, words):
    process, (matrices, start, normalizer) = product
    with np.errstate(divide="ignore"):
        expected = [np.log(word_probability(matrices, start, normalizer, word)) for word in words]
    log_probabilities = process.log_probability(words)
    assert log_probabilities.dtype == np.float64
    np.testing.assert_allclose(log_probabilities, expected, rtol=0, atol=1e-12)


def test_next_token_distributions_equal_the_joint_filters(product, words):
    process, (matrices, start, normalizer) = product
    distributions = process.next_token_distributions(words)
    assert distributions.shape == (*words.shape, process.vocab_size)
    for word, rows in zip(words[:16], distributions[:16], strict=True):
        for t in range(len(word)):
            prefix = word_probability(matrices, start, normalizer, word[: t + 1])
            expected = [
                word_probability(matrices, start, normalizer, [*word[: t + 1], x]) / prefix
                for x in range(len(matrices))
            ]
            np.testing.assert_allclose(rows[t], expected, rtol=0, atol=1e-12)


def test_the_joint_belief_is_the_kronecker_product_of_the_factor_beliefs(product, words):
    process, (matrices, start, normalizer) = product
    beliefs = process.factor_beliefs(words)
    assert [b.shape for b in beliefs] == [
        (*words.shape[:-1], words.shape[-1] + 1, d) for d in process.factor_num_states
    ]
    for i, word in enumerate(words[:16]):
        joint = start
        for t in range(len(word) + 1):
            np.testing.assert_allclose(np.kron(beliefs[0][i, t], beliefs[1][i, t]), joint, rtol=0, atol=1e-12)
            if t < len(word):
                joint = joint @ matrices[word[t]]
                joint = joint / (joint @ normalizer)


def test_myopic_entropies_equal_word_enumeration(product):
    process, (matrices, start, normalizer) = product
    expected = np.diff(block_entropies(matrices, start, normalizer, 4))
    np.testing.assert_allclose(myopic_entropy(process, 4), expected, rtol=0, atol=1e-12)


def test_the_rate_and_excess_entropy_add_over_the_factors():
    factors = [build_hidden_markov_model("even_ones", p=0.3), build_hidden_markov_model("rrxor", pR1=0.5, pR2=0.5)]
    process = FactoredProcess(factors)
    assert entropy_rate(process) == pytest.approx(sum(entropy_rate(f) for f in factors), abs=1e-9)
    assert excess_entropy(process) == pytest.approx(sum(excess_entropy(f) for f in factors), abs=3e-6)


def test_device_states_are_the_factor_beliefs_and_predict_the_exact_distribution(product):
    process, _ = product
    batch, length = 32, 6
    starts = jnp.broadcast_to(process.initial_state, (batch, process.num_states))
    keys = jax.random.split(jax.random.key(0), batch)
    states, tokens = process.generate(starts, keys, length, return_all_states=True)
    assert states.shape == (batch, length, process.num_states) and tokens.shape == (batch, length)
    exact = np.concatenate(process.factor_beliefs(np.asarray(tokens)), axis=-1)[:, 1:]
    np.testing.assert_allclose(np.asarray(states), exact, rtol=0, atol=1e-5)
    predicted = jax.vmap(jax.vmap(process.observation_probability_distribution))(states)
    np.testing.assert_allclose(np.asarray(predicted), process.next_token_distributions(np.asarray(tokens)), atol=1e-5)
    stepped = jax.vmap(process.transition_states)(starts, tokens[:, 0])
    np.testing.assert_allclose(np.asarray(stepped), np.asarray(states[:, 0]), atol=1e-6)


def test_sampled_tokens_follow_the_joint_distribution(product):
    process, (matrices, start, normalizer) = product
    batch = 20_000
    starts = jnp.broadcast_to(process.initial_state, (batch, process.num_states))
    _, tokens = process.generate(starts, jax.random.split(jax.random.key(1), batch), 2)
    pairs = np.asarray(tokens[:, 0] * process.vocab_size + tokens[:, 1])
    frequencies = np.bincount(pairs, minlength=process.vocab_size**2) / batch
    expected = np.array(
        [
            word_probability(matrices, start, normalizer, [a, b])
            for a in range(len(matrices))
            for b in range(len(matrices))
        ]
    )
    assert np.abs(frequencies - expected).max() < 4 * np.sqrt(expected.max() / batch)


def test_one_factor_is_refused_in_one_line():
    with pytest.raises(ValueError, match="at least two factors, got 1"):
        FactoredProcess([build_hidden_markov_model("coin", p=0.5)])


def test_what_training_asks_of_a_bos_framed_product_never_builds_the_joint_presentation():
    # Sampling, the logged entropy rate, the validation optimum and the exact next-token distributions are
    # computed factor by factor; the values are those of the Kronecker presentation, built here afterwards.
    mess3 = build_hidden_markov_model("mess3", x=0.15, a=0.6)
    process = SpecialTokenProcess(FactoredProcess([mess3, build_hidden_markov_model("even_ones", p=0.3), mess3]))
    content = process.process
    assert isinstance(content, FactoredProcess) and process.vocab_size == 3 * 2 * 3 + 1
    batch, length = 8, 5
    starts = jnp.broadcast_to(process.initial_state, (batch, process.num_states))
    _, tokens = process.generate(starts, jax.random.split(jax.random.key(2), batch), length)
    rate = training_entropy_rate(process)
    optimum = optimal_loss_per_position(process, length)
    distributions = process.next_token_distributions(np.asarray(tokens)[:, :-1])
    assert not content.joint_presentation.is_built and not process.framed_presentation.is_built
    joint = content.presentation
    joint_process = HiddenMarkovModel(joint.transition_matrices, initial_state=joint.initial_state)
    factor_rates = [entropy_rate(factor) for factor in content.factors]
    assert rate == pytest.approx(sum(factor_rates), abs=2e-6)
    np.testing.assert_allclose(optimum, myopic_entropy(SpecialTokenProcess(joint_process), length + 1)[1:], atol=1e-12)
    framed = process.presentation.next_token_distributions(np.asarray(tokens)[:, :-1])
    np.testing.assert_allclose(distributions, framed, rtol=0, atol=1e-12)
