"""A noisy channel, against filters written here that sum over every clean word the noise could have come from."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.generative_processes import (
    FactoredProcess,
    NoisyChannel,
    Presentation,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
)
from simplexity.generative_processes.information import iter_myopic_entropies

EPSILON = 0.3


def clean_and_noisy(factors) -> tuple[FactoredProcess, NoisyChannel]:
    process = FactoredProcess(factors)
    return process, NoisyChannel(process, EPSILON)


@pytest.fixture(scope="module", params=["hmm", "ghmm"])
def processes(request):
    if request.param == "hmm":
        return clean_and_noisy(
            [build_hidden_markov_model("no_consecutive_ones", p=0.4), build_hidden_markov_model("even_ones", p=0.3)]
        )
    return clean_and_noisy(
        [
            build_generalized_hidden_markov_model("tom_quantum", alpha=1.0, beta=3.0),
            build_hidden_markov_model("coin", p=0.3),
        ]
    )


def channel_probability(noisy_word, clean_word, vocab_size) -> float:
    """P(the channel turns `clean_word` into `noisy_word`)."""
    stay = 1.0 - EPSILON + EPSILON / vocab_size
    return float(
        np.prod([stay if n == c else EPSILON / vocab_size for n, c in zip(noisy_word, clean_word, strict=True)])
    )


def unnormalized_bayes_state(clean: FactoredProcess, noisy_word) -> np.ndarray:
    """`sum_c P(noisy | c) s T_c`: the joint state and the noisy word's probability, summed over clean words."""
    presentation = clean.presentation
    total = np.zeros(presentation.num_states)
    for clean_word in itertools.product(range(clean.vocab_size), repeat=len(noisy_word)):
        vector = presentation.initial_state
        for token in clean_word:
            vector = vector @ presentation.transition_matrices[token]
        total += channel_probability(noisy_word, clean_word, clean.vocab_size) * vector
    return total


def test_probabilities_and_beliefs_equal_the_sum_over_clean_words(processes):
    clean, noisy = processes
    normalizer = clean.presentation.normalizing_eigenvector
    words = np.random.default_rng(1).integers(0, noisy.vocab_size, size=(10, 3))
    log_probabilities = noisy.log_probability(words)
    distributions = noisy.next_token_distributions(words)
    beliefs = noisy.bayes_beliefs(words)
    for word, log_probability, rows, word_beliefs in zip(words, log_probabilities, distributions, beliefs, strict=True):
        state = unnormalized_bayes_state(clean, word)
        assert log_probability == pytest.approx(np.log(state @ normalizer), abs=1e-12)
        np.testing.assert_allclose(word_beliefs[-1], state / (state @ normalizer), rtol=0, atol=1e-12)
        prefix = unnormalized_bayes_state(clean, word[:2]) @ normalizer
        expected = [
            unnormalized_bayes_state(clean, [*word[:2], x]) @ normalizer / prefix for x in range(noisy.vocab_size)
        ]
        np.testing.assert_allclose(rows[1], expected, rtol=0, atol=1e-12)


def test_noise_blind_beliefs_are_the_factor_filters_of_the_noisy_tokens(processes):
    clean, noisy = processes
    words = np.random.default_rng(0).integers(0, noisy.vocab_size, size=(16, 5))
    for blind, factor in zip(noisy.noise_blind_factor_beliefs(words), clean.factor_beliefs(words), strict=True):
        np.testing.assert_array_equal(blind, factor)


def test_without_noise_the_bayes_belief_factors_and_with_noise_it_does_not(processes):
    clean, noisy = processes
    words = np.array(list(itertools.product(range(clean.vocab_size), repeat=3)))
    noiseless = NoisyChannel(clean, 0.0)
    joint = noiseless.bayes_beliefs(words)
    first, second = noiseless.noise_blind_factor_beliefs(words)
    possible = np.isfinite(clean.log_probability(words))
    product = np.einsum("...i,...j->...ij", first, second).reshape(joint.shape)
    np.testing.assert_allclose(joint[possible], product[possible], rtol=0, atol=1e-12)
    noisy_joint = noisy.bayes_beliefs(words)
    first, second = noisy.noise_blind_factor_beliefs(words)
    product = np.einsum("...i,...j->...ij", first, second).reshape(noisy_joint.shape)
    assert np.abs(noisy_joint - product).max() > 0.01


def test_sampled_pairs_follow_the_noisy_distribution(processes):
    clean, noisy = processes
    batch = 20_000
    starts = jnp.broadcast_to(noisy.initial_state, (batch, noisy.num_states))
    states, tokens = noisy.generate(starts, jax.random.split(jax.random.key(3), batch), 2, return_all_states=True)
    pairs = np.asarray(tokens[:, 0] * noisy.vocab_size + tokens[:, 1])
    frequencies = np.bincount(pairs, minlength=noisy.vocab_size**2) / batch
    normalizer = clean.presentation.normalizing_eigenvector
    expected = np.array(
        [
            unnormalized_bayes_state(clean, [a, b]) @ normalizer
            for a in range(noisy.vocab_size)
            for b in range(noisy.vocab_size)
        ]
    )
    assert np.abs(frequencies - expected).max() < 4 * np.sqrt(expected.max() / batch)
    np.testing.assert_allclose(np.asarray(states), noisy.bayes_beliefs(np.asarray(tokens))[:, 1:], atol=1e-5)


def test_an_epsilon_outside_zero_one_is_refused_in_one_line():
    with pytest.raises(ValueError, match=r"epsilon=1.5 must be a probability in \[0, 1\]"):
        NoisyChannel(build_hidden_markov_model("coin", p=0.5), 1.5)


def test_a_layer_over_max_states_is_refused_before_its_successors_are_computed(monkeypatch):
    noisy = NoisyChannel(FactoredProcess([build_hidden_markov_model("mess3", x=0.15, a=0.6)] * 3), 0.1)
    sizes = []
    successors = Presentation.successors

    def recording(presentation, beliefs):
        sizes.append(len(beliefs))
        return successors(presentation, beliefs)

    monkeypatch.setattr(Presentation, "successors", recording)
    with pytest.raises(ValueError, match=r"distinct mixed states after 3 tokens, more than 10000;"):
        list(iter_myopic_entropies(noisy, max_states=10_000))
    assert max(sizes) <= 10_000
