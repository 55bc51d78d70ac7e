"""Every context a model can see, with its probability and the exact belief state it leads to.

A context is a word of 1 to `max_context_len` tokens drawn from the process's initial state. A causal model's
activation at input position `t` depends only on tokens `0..t`, so it belongs to the context `word[: t + 1]`;
each distinct context is listed once, weighted by its probability. The weights of the contexts of one length sum
to 1 (less what `min_probability` drops), so every position counts equally, as in the training loss.
"""

from dataclasses import dataclass

import jax
import numpy as np

from simplexity.generative_processes import GenerativeProcess, word_beliefs
from simplexity.training import sample_sequences

# The sampled dataset's draws come from their own stream of the seed.
_ANALYSIS_SAMPLE_STREAM = 3


class TooManyContextsError(ValueError):
    """Not even the contexts of one token fit in the allowed number of contexts."""


@dataclass(frozen=True)
class BeliefDataset:
    """Contexts of lengths `1..max_context_len` with their probabilities and beliefs.

    Arguments:
        tokens: each context left-aligned and padded with token 0 to `max_context_len`, shape
            `(n, max_context_len)`; a causal model ignores the padding after position `lengths - 1`.
        lengths: number of tokens of each context, shape `(n,)`.
        probabilities: probability of each context from the initial state, shape `(n,)`.
        beliefs: the belief (state vector) after each context, shape `(n, states)`.
        next_token_probabilities: `P(next token | context)`, shape `(n, vocab)`.
        covered_probability: for each length `1..max_context_len`, the total exact probability of the contexts
            listed (1 when every context of that length is; less what `min_probability` drops, or what a sample
            missed); None when not known.
    """

    tokens: np.ndarray
    lengths: np.ndarray
    probabilities: np.ndarray
    beliefs: np.ndarray
    next_token_probabilities: np.ndarray
    covered_probability: np.ndarray | None = None

    @property
    def max_context_len(self) -> int:
        """The number of tokens of the longest context."""
        return self.tokens.shape[1]

    @property
    def positions(self) -> np.ndarray:
        """The input position whose activation belongs to each context (`lengths - 1`), shape `(n,)`."""
        return self.lengths - 1

    def __len__(self) -> int:
        return len(self.lengths)

    def per_position(self, values: np.ndarray) -> np.ndarray:
        """Returns the probability-weighted mean of `values` (shape `(n,)`) at each position, `(max_context_len,)`."""
        totals = np.bincount(self.positions, weights=self.probabilities, minlength=self.max_context_len)
        sums = np.bincount(self.positions, weights=self.probabilities * values, minlength=self.max_context_len)
        return sums / np.where(totals > 0, totals, 1.0)


def belief_dataset(
    process: GenerativeProcess, max_context_len: int, min_probability: float = 0.0, max_contexts: int | None = None
) -> BeliefDataset:
    """Returns every context of 1 to `max_context_len` tokens with its probability and belief.

    When the contexts up to some length would exceed `max_contexts`, the dataset stops at the longest length that
    fits (check `max_context_len` of the result). The bound used is the number of words the next length's
    enumeration allocates, `vocab * (contexts of the previous length)`, before `min_probability` prunes them.

    Arguments:
        process: any generative process.
        max_context_len: the longest context, in tokens.
        min_probability: contexts of at most this probability are dropped (0 keeps every possible one).
        max_contexts: the most contexts to list; None for no limit.

    Raises:
        TooManyContextsError: when not even the contexts of one token fit in `max_contexts`.

    Example:
        >>> dataset = belief_dataset(build_hidden_markov_model("mess3", x=0.15, a=0.6), 3)
        >>> len(dataset), dataset.beliefs.shape
        (39, (39, 3))
    """
    if max_context_len < 1:
        raise ValueError(f"max_context_len={max_context_len!r} must be at least 1")
    presentation = process.presentation
    vocab = presentation.vocab_size
    layers, total, previous = [], 0, 1
    for length in range(1, max_context_len + 1):
        if max_contexts is not None and total + previous * vocab > max_contexts:
            break
        layer = word_beliefs(process, length, min_probability)
        layers.append(layer)
        total += len(layer.words)
        previous = len(layer.words)
    if not layers:
        raise TooManyContextsError(f"the {vocab} contexts of one token are more than max_contexts={max_contexts}")
    longest = len(layers)
    tokens = np.concatenate(
        [np.pad(layer.words, ((0, 0), (0, longest - layer.words.shape[1]))) for layer in layers]
    ).astype(np.int32)
    lengths = np.concatenate([np.full(len(layer.words), layer.words.shape[1]) for layer in layers])
    beliefs = np.concatenate([layer.beliefs for layer in layers])
    next_token_probabilities, _ = presentation.successors(beliefs)
    return BeliefDataset(
        tokens=tokens,
        lengths=lengths,
        probabilities=np.concatenate([layer.probabilities for layer in layers]),
        beliefs=beliefs,
        next_token_probabilities=next_token_probabilities,
        covered_probability=np.array([layer.probabilities.sum() for layer in layers]),
    )


def sampled_belief_dataset(
    process: GenerativeProcess, max_context_len: int, num_sequences: int, seed: int = 0
) -> BeliefDataset:
    """Returns the distinct prefixes of `num_sequences` sampled sequences, with exact probabilities and beliefs.

    For contexts too many to enumerate (long contexts, large vocabularies): sequences of `max_context_len`
    tokens are drawn from the process (a fixed key from `seed`); every prefix is a context, and equal prefixes
    are merged. Each context is weighted by its exact probability (float64), normalised over the contexts of its
    length, so that when every context of a length was sampled the weights are the enumeration's; the
    probability the distinct contexts of each length hold before that is `covered_probability`.

    Arguments:
        process: any generative process.
        max_context_len: the length of the sampled sequences, and so of the longest context.
        num_sequences: how many sequences to sample.
        seed: the sample's seed.

    Raises:
        ValueError: for a non-positive `max_context_len` or `num_sequences`.
    """
    if max_context_len < 1 or num_sequences < 1:
        raise ValueError(f"max_context_len={max_context_len!r} and num_sequences={num_sequences!r} must be positive")
    key = jax.random.fold_in(jax.random.key(seed), _ANALYSIS_SAMPLE_STREAM)
    sequences = np.asarray(sample_sequences(process, key, num_sequences, max_context_len), dtype=np.int32)
    presentation = process.presentation
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    covered: list[float] = []
    for length in range(1, max_context_len + 1):
        words = np.unique(sequences[:, :length], axis=0)
        beliefs, log_probabilities = presentation.filter(words)
        probabilities = np.exp(log_probabilities.sum(axis=1))
        parts.append((words, beliefs[:, -1], probabilities / probabilities.sum()))
        covered.append(probabilities.sum())
    tokens = np.concatenate([np.pad(words, ((0, 0), (0, max_context_len - words.shape[1]))) for words, _, _ in parts])
    # The process's own next-token distributions (a factored process's factor by factor), not the presentation's
    # successors, whose cost grows with the joint states squared times the vocabulary.
    next_token_probabilities = np.concatenate([process.next_token_distributions(words)[:, -1] for words, _, _ in parts])
    return BeliefDataset(
        tokens=tokens,
        lengths=np.concatenate([np.full(len(words), words.shape[1]) for words, _, _ in parts]),
        probabilities=np.concatenate([part[2] for part in parts]),
        beliefs=np.concatenate([part[1] for part in parts]),
        next_token_probabilities=next_token_probabilities,
        covered_probability=np.array(covered),
    )
