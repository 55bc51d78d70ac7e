import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from simplexity.config import CONFIG_DIR
from simplexity.generative_processes import (
    FactoredProcess,
    GeneralizedHiddenMarkovModel,
    HiddenMarkovModel,
    SpecialTokenProcess,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
    entropy_rate,
    myopic_entropy,
    nonergodic_mixture,
    statistical_complexity,
    to_bits,
)


@pytest.fixture(scope="module")
def golden_mean_and_z1r():
    golden_mean = build_hidden_markov_model("no_consecutive_ones", p=0.5)
    z1r = build_hidden_markov_model("zero_one_random", p=0.5)
    return nonergodic_mixture([golden_mean, z1r], [0.25, 0.75], vocab_maps=[[0, 1], [2, 3]])


def test_mixture_of_hmms_is_an_hmm_with_the_shared_vocabulary(golden_mean_and_z1r):
    assert isinstance(golden_mean_and_z1r, HiddenMarkovModel)
    assert golden_mean_and_z1r.vocab_size == 4
    assert golden_mean_and_z1r.num_states == 5


def test_each_sampled_sequence_comes_from_one_component_in_proportion_to_the_weights(golden_mean_and_z1r):
    count = 4000
    states = jnp.broadcast_to(golden_mean_and_z1r.initial_state, (count, 5))
    _, tokens = golden_mean_and_z1r.generate(states, jax.random.split(jax.random.key(0), count), 12)
    tokens = np.asarray(tokens)
    from_first = np.all(tokens < 2, axis=1)
    assert np.all(from_first | np.all(tokens >= 2, axis=1))
    assert abs(from_first.mean() - 0.25) < 4 * math.sqrt(0.25 * 0.75 / count)


def test_mixture_information_combines_the_components(golden_mean_and_z1r):
    h_weights = -(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))
    assert to_bits(entropy_rate(golden_mean_and_z1r)) == pytest.approx(0.25 * 2 / 3 + 0.75 / 3, abs=1e-6)
    expected_complexity = h_weights + 0.25 * 0.9182958340544896 + 0.75 * math.log2(3)
    assert to_bits(statistical_complexity(golden_mean_and_z1r)) == pytest.approx(expected_complexity, abs=1e-6)


def test_mixture_with_a_generalized_hmm_keeps_word_probabilities_normalised():
    mixture = nonergodic_mixture(
        [build_generalized_hidden_markov_model("tom_quantum"), build_hidden_markov_model("mess3")], [0.5, 0.5]
    )
    assert isinstance(mixture, GeneralizedHiddenMarkovModel)
    assert mixture.vocab_size == 4
    words = jnp.array(list(itertools.product(range(4), repeat=3)))
    probabilities = mixture.probability(words)
    assert float(jnp.min(probabilities)) > -1e-6
    assert float(jnp.sum(probabilities)) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(
    ("weights", "vocab_maps", "message"),
    [([0.5], None, "one weight per process"), ([0.7, 0.7], None, "sum to 1"), ([0.5, 0.5], [[0, 1]], "vocab_maps")],
)
def test_bad_mixture_arguments_are_named(weights, vocab_maps, message):
    processes = [build_hidden_markov_model("coin"), build_hidden_markov_model("coin")]
    with pytest.raises(ValueError, match=message):
        nonergodic_mixture(processes, weights, vocab_maps)


def test_special_tokens_frame_each_sequence_and_count_in_the_vocabulary(mess3):
    framed = SpecialTokenProcess(mess3, bos=True, eos=True)
    assert framed.vocab_size == 5
    states = jnp.broadcast_to(framed.initial_state, (6, 3))
    beliefs, tokens = framed.generate(states, jax.random.split(jax.random.key(1), 6), 10, return_all_states=True)
    assert tokens.shape == (6, 10) and beliefs.shape == (6, 10, 3)
    np.testing.assert_array_equal(tokens[:, 0], 3)
    np.testing.assert_array_equal(tokens[:, -1], 4)
    assert np.all(np.asarray(tokens[:, 1:-1]) < 3)
    np.testing.assert_allclose(beliefs[:, 0], states, atol=1e-7)
    np.testing.assert_allclose(beliefs[:, 2], jax.vmap(mess3.transition_states)(beliefs[:, 1], tokens[:, 2]), atol=1e-6)
    assert float(framed.log_probability(tokens[0])) == pytest.approx(float(mess3.log_probability(tokens[0, 1:-1])))


def test_special_token_yaml_builds_a_process_whose_vocabulary_counts_bos():
    cfg = OmegaConf.load(CONFIG_DIR / "generative_process" / "mess3_bos.yaml")
    process = instantiate(cfg.instance)
    assert process.vocab_size == cfg.vocab_size == 4


def test_a_bos_framed_process_of_factors_predicts_and_scores_as_a_forward_filter_written_here(mess3):
    even = build_hidden_markov_model("even_ones", p=0.4)
    content = FactoredProcess([mess3, even])
    framed = SpecialTokenProcess(content, bos=True)
    joint = np.array(
        [np.kron(a, b) for a in mess3.presentation.transition_matrices for b in even.presentation.transition_matrices]
    )
    start = np.kron(mess3.presentation.initial_state, even.presentation.initial_state)
    states = jnp.broadcast_to(framed.initial_state, (3, framed.num_states))
    _, words = framed.generate(states, jax.random.split(jax.random.key(0), 3), 5)
    words = np.asarray(words)
    assert np.all(words[:, 0] == 6)  # BOS, then joint tokens
    distributions = framed.next_token_distributions(words)
    log_probabilities = framed.log_probability(words)
    for w, word in enumerate(words):
        vector, log_probability = start, 0.0
        for t, token in enumerate(word):
            if t > 0:
                log_probability += math.log((vector @ joint[token]).sum() / vector.sum())
                vector = vector @ joint[token]
            expected = np.append([(vector @ matrix).sum() / vector.sum() for matrix in joint], 0.0)  # BOS: never
            np.testing.assert_allclose(distributions[w, t], expected, rtol=1e-12, atol=1e-15)
        assert log_probabilities[w] == pytest.approx(log_probability, abs=1e-12)
    assert framed.log_probability(np.array([0, 6, 1])) == -np.inf  # BOS inside the content
    np.testing.assert_allclose(myopic_entropy(framed, 3), [0.0, *myopic_entropy(content, 2)], atol=1e-12)
