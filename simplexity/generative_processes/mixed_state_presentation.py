"""Mixed-state presentations: the beliefs an observer holds after each word, with their probabilities.

Everything here runs on the host in float64 numpy, from the process's float64 `presentation`: the quantities
are exact up to rounding, and the number of mixed states, not arithmetic, is what limits them. Beliefs are
renormalised after every token, and each layer's total probability is kept from drifting.
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from simplexity.generative_processes.generative_process import GenerativeProcess


@dataclass(frozen=True)
class BeliefLayer:
    """The distinct beliefs after exactly `length` tokens from the initial state, with their probabilities.

    `probabilities[k]` is the total probability of the words that lead to `beliefs[k]`.
    """

    length: int
    beliefs: np.ndarray
    probabilities: np.ndarray


@dataclass(frozen=True)
class WordBeliefs:
    """Every word of one length with its probability and the belief it leads to."""

    words: np.ndarray  # (n, length) int
    probabilities: np.ndarray  # (n,)
    beliefs: np.ndarray  # (n, states)


def _merge_equal_beliefs(
    beliefs: np.ndarray, probabilities: np.ndarray, decimals: int
) -> tuple[np.ndarray, np.ndarray]:
    """Returns the distinct beliefs (equal to `decimals` places) and the summed probability of each."""
    keys = np.round(beliefs, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0 so both land in one group
    if len(keys) == 0:
        return beliefs, np.zeros(0)
    # Rows in lexicographic order (a stable sort by column, much faster than np.unique's sort of whole rows),
    # grouped where a row differs from the one before; each group keeps its first belief.
    order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    starts = np.concatenate([[True], np.any(ordered[1:] != ordered[:-1], axis=1)])
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return beliefs[order[starts]], np.bincount(inverse, weights=probabilities, minlength=int(starts.sum()))


def iter_belief_layers(
    process: GenerativeProcess, min_probability: float = 0.0, decimals: int = 12
) -> Iterator[BeliefLayer]:
    """Yields the belief layers for lengths 0, 1, 2, ..., merging words that reach the same belief.

    Merging keeps each layer no larger than the number of distinct mixed states, so a process whose
    mixed-state presentation is finite is handled to any length.

    Arguments:
        process: any generative process.
        min_probability: drop mixed states whose probability is at most this (0 keeps every reachable one).
        decimals: beliefs equal to this many decimal places are merged.
    """
    presentation = process.presentation
    layer = BeliefLayer(0, presentation.initial_state[None, :], np.ones(1))
    while True:
        yield layer  # before its successors are computed: a caller may stop at any layer
        layer = _next_layer(layer, *presentation.successors(layer.beliefs), min_probability, decimals)


def iter_belief_layers_and_predictions(
    process: GenerativeProcess, min_probability: float = 0.0, decimals: int = 12, max_states: int | None = None
) -> Iterator[tuple[BeliefLayer, np.ndarray]]:
    """Yields each belief layer (`iter_belief_layers`) with `P(x | belief)` for its beliefs, shape `(n, vocab)`.

    Raises:
        ValueError: naming the process, before a layer of more than `max_states` mixed states has its successors
            computed (an array of `states * vocab * process states` floats).
    """
    presentation = process.presentation
    layer = BeliefLayer(0, presentation.initial_state[None, :], np.ones(1))
    while True:
        if max_states is not None and len(layer.beliefs) > max_states:
            raise ValueError(
                f"{process.name}: {len(layer.beliefs)} distinct mixed states after {layer.length} tokens, more than "
                f"{max_states}; use a smaller length, a larger min_probability or fewer decimals"
            )
        token_probabilities, successors = presentation.successors(layer.beliefs)
        yield layer, token_probabilities
        layer = _next_layer(layer, token_probabilities, successors, min_probability, decimals)


def _next_layer(
    layer: BeliefLayer, token_probabilities: np.ndarray, successors: np.ndarray, min_probability: float, decimals: int
) -> BeliefLayer:
    """Returns the layer after `layer`, from its beliefs' next-token probabilities and successors."""
    joint = (layer.probabilities[:, None] * token_probabilities).reshape(-1)
    joint *= layer.probabilities.sum() / joint.sum()  # rounding must not let the total drift over many layers
    keep = joint > min_probability
    beliefs, probabilities = _merge_equal_beliefs(
        successors.reshape(-1, successors.shape[-1])[keep], joint[keep], decimals
    )
    return BeliefLayer(layer.length + 1, beliefs, probabilities)


def belief_layers(
    process: GenerativeProcess, max_length: int, min_probability: float = 0.0, decimals: int = 12
) -> list[BeliefLayer]:
    """Returns the belief layers for lengths `0..max_length` (see `iter_belief_layers`)."""
    return list(itertools.islice(iter_belief_layers(process, min_probability, decimals), max_length + 1))


def word_beliefs(process: GenerativeProcess, length: int, min_probability: float = 0.0) -> WordBeliefs:
    """Returns every word of `length` tokens of probability above `min_probability`, its probability and belief.

    Words are not merged: distinct words that reach the same belief are all listed (what an analysis of a
    model's activations needs). The number of words grows as `vocab ** length`.
    """
    presentation = process.presentation
    words = np.zeros((1, 0), dtype=np.int32)
    beliefs, probabilities = presentation.initial_state[None, :], np.ones(1)
    vocab = presentation.vocab_size
    for _ in range(length):
        token_probabilities, successors = presentation.successors(beliefs)
        joint = (probabilities[:, None] * token_probabilities).reshape(-1)
        keep = joint > min_probability
        extended = np.concatenate(
            [np.repeat(words, vocab, axis=0), np.tile(np.arange(vocab, dtype=np.int32), len(words))[:, None]], axis=1
        )
        words, probabilities = extended[keep], joint[keep]
        beliefs = successors.reshape(-1, successors.shape[-1])[keep]
    return WordBeliefs(words=words, probabilities=probabilities, beliefs=beliefs)


@dataclass(frozen=True)
class MixedStateGraph:
    """The mixed-state presentation as a graph: the start belief, every distinct belief reached, and its edges.

    Arguments:
        beliefs: distinct beliefs, shape `(n, states)`; index 0 is the start.
        token_probabilities: `P(x | belief)`, shape `(n, vocab)`.
        successors: index of the belief reached on each token, `-1` where the token has probability 0,
            shape `(n, vocab)`.
    """

    beliefs: np.ndarray
    token_probabilities: np.ndarray
    successors: np.ndarray


class UnboundedMixedStatesError(ValueError):
    """The mixed-state presentation did not close within the allowed number of states."""


def mixed_state_graph(
    process: GenerativeProcess, max_states: int = 10_000, decimals: int = 10, max_depth: int | None = None
) -> MixedStateGraph:
    """Returns the mixed-state presentation reachable from the process's initial state: complete, or to a depth.

    With `max_depth`, only beliefs reached within that many tokens are kept; those first reached at `max_depth`
    are not explored (their token probabilities are 0 and their successors -1).

    Raises:
        UnboundedMixedStatesError: when more than `max_states` distinct beliefs are reached (the presentation
            is infinite, as for mess3, or larger than allowed).
    """
    presentation = process.presentation
    index_of: dict[bytes, int] = {}
    beliefs: list[np.ndarray] = []

    def index(belief: np.ndarray) -> int:
        key = (np.round(belief, decimals) + 0.0).tobytes()
        if key not in index_of:
            if len(beliefs) >= max_states:
                raise UnboundedMixedStatesError(
                    f"{process.name}: the mixed-state presentation has more than max_states={max_states} states; "
                    "it may be infinite (a nonunifilar process such as mess3)"
                )
            index_of[key] = len(beliefs)
            beliefs.append(belief)
        return index_of[key]

    index(presentation.initial_state)
    depths = [0]
    token_rows: list[np.ndarray] = []
    successor_rows: list[list[int]] = []
    explored = 0
    while explored < len(beliefs):
        if max_depth is not None and depths[explored] >= max_depth:
            token_rows.append(np.zeros(presentation.vocab_size))
            successor_rows.append([-1] * presentation.vocab_size)
            explored += 1
            continue
        probabilities, successors = presentation.successors(beliefs[explored][None, :])
        token_rows.append(probabilities[0])
        successor_rows.append([index(s) if p > 0 else -1 for p, s in zip(probabilities[0], successors[0], strict=True)])
        depths += [depths[explored] + 1] * (len(beliefs) - len(depths))
        explored += 1
    return MixedStateGraph(np.array(beliefs), np.array(token_rows), np.array(successor_rows, dtype=np.int64))
