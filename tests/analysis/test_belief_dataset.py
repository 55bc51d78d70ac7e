import numpy as np
import pytest

from simplexity.analysis import TooManyContextsError, belief_dataset, sampled_belief_dataset
from simplexity.generative_processes import myopic_entropy, word_beliefs
from simplexity.generative_processes.information import entropy


def test_every_context_of_each_length_is_listed_once(mess3):
    dataset = belief_dataset(mess3, 4)
    assert len(dataset) == 3 + 9 + 27 + 81
    assert dataset.tokens.shape == (120, 4)
    for length in range(1, 5):
        contexts = dataset.tokens[dataset.lengths == length, :length]
        assert len(np.unique(contexts, axis=0)) == 3**length
        assert np.all(dataset.tokens[dataset.lengths == length, length:] == 0)  # padding


def test_probabilities_sum_to_one_at_each_position(mess3):
    dataset = belief_dataset(mess3, 5)
    np.testing.assert_allclose(dataset.per_position(np.ones(len(dataset))), 1.0)
    totals = np.bincount(dataset.positions, weights=dataset.probabilities)
    np.testing.assert_allclose(totals, np.ones(5), atol=1e-12)


def test_beliefs_are_those_of_each_word(mess3):
    dataset = belief_dataset(mess3, 3)
    words = word_beliefs(mess3, 3)
    longest = dataset.lengths == 3
    np.testing.assert_array_equal(dataset.tokens[longest], words.words)
    np.testing.assert_allclose(dataset.beliefs[longest], words.beliefs)
    np.testing.assert_allclose(dataset.probabilities[longest], words.probabilities)


def test_conditional_entropy_per_position_is_the_myopic_entropy(mess3):
    dataset = belief_dataset(mess3, 4)
    per_position = dataset.per_position(entropy(dataset.next_token_probabilities))
    # Input position t has seen t + 1 tokens: its best loss is h(t + 2).
    np.testing.assert_allclose(per_position, myopic_entropy(mess3, 5)[1:], atol=1e-12)


def test_max_contexts_stops_at_the_longest_length_that_fits(mess3):
    dataset = belief_dataset(mess3, 6, max_contexts=3 + 9 + 27 + 10)
    assert dataset.max_context_len == 3
    with pytest.raises(TooManyContextsError, match="max_contexts=2"):
        belief_dataset(mess3, 6, max_contexts=2)


def test_min_probability_drops_improbable_contexts(mess3):
    dataset = belief_dataset(mess3, 4, min_probability=0.01)
    assert np.all(dataset.probabilities > 0.01)
    assert len(dataset) < 120


def test_the_sampled_dataset_equals_enumeration_where_every_context_was_sampled(mess3):
    enumerated = belief_dataset(mess3, 3)
    sampled = sampled_belief_dataset(mess3, 3, num_sequences=4000, seed=0)
    assert len(sampled) == len(enumerated) == 39  # every word of up to 3 tokens was drawn

    def by_context(dataset):
        return {
            (int(length), tuple(tokens[:length])): (probability, belief)
            for tokens, length, probability, belief in zip(
                dataset.tokens, dataset.lengths, dataset.probabilities, dataset.beliefs, strict=True
            )
        }

    expected, got = by_context(enumerated), by_context(sampled)
    assert expected.keys() == got.keys()
    for context, (probability, belief) in expected.items():
        assert got[context][0] == pytest.approx(probability, rel=1e-12, abs=1e-15)
        np.testing.assert_allclose(got[context][1], belief, rtol=0, atol=1e-12)


def test_a_sampled_dataset_reaches_contexts_beyond_enumeration(mess3):
    sampled = sampled_belief_dataset(mess3, 40, num_sequences=200, seed=1)
    assert sampled.max_context_len == 40
    totals = np.bincount(sampled.positions, weights=sampled.probabilities)
    np.testing.assert_allclose(totals, 1.0, rtol=0, atol=1e-12)  # each length's weights are normalised
    np.testing.assert_allclose(sampled.beliefs.sum(axis=1), 1.0, atol=1e-12)


def test_each_length_says_how_much_probability_its_contexts_cover(mess3):
    """The sum over the distinct sampled contexts of their exact probabilities, against the word by word product."""
    enumerated = belief_dataset(mess3, 3).covered_probability
    assert enumerated is not None and enumerated.tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-12)
    sample = sampled_belief_dataset(mess3, 6, num_sequences=20, seed=0)
    presentation = mess3.presentation
    expected = []
    for length in range(1, 7):
        words = {tuple(row[:length]) for row, n in zip(sample.tokens, sample.lengths, strict=True) if n == length}
        total = 0.0
        for word in words:
            vector = presentation.initial_state
            for token in word:
                vector = vector @ presentation.transition_matrices[token]
            total += vector.sum()
        expected.append(total)
    assert sample.covered_probability is not None
    np.testing.assert_allclose(sample.covered_probability, expected, rtol=1e-12)
    assert expected[0] == pytest.approx(1.0, abs=1e-12) and expected[-1] < 0.05  # 20 of 729 words of length 6
