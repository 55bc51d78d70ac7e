"""Causal states: the recurrent mixed states merged by their futures (the epsilon-machine), and its word structure.

The epsilon-machine is read off the complete mixed-state presentation: its recurrent mixed states, merged when
they predict the same future (Moore minimisation), weighted by their long-run probability from the initial
state. Markov order and cryptic order follow from pairs of distinct causal states that read the same word.
"""

from dataclasses import dataclass

import numpy as np

from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.markov_chain import asymptotic_distribution
from simplexity.generative_processes.mixed_state_presentation import MixedStateGraph, mixed_state_graph


class InfiniteOrderError(ValueError):
    """A process's Markov order or cryptic order is infinite."""


@dataclass(frozen=True)
class CausalStates:
    """The recurrent causal states of a process: its epsilon-machine.

    Arguments:
        probabilities: long-run probability of each causal state, shape `(n,)`.
        token_probabilities: `P(x | state)`, shape `(n, vocab)`.
        successors: the state reached on each token, `-1` where the token is impossible, shape `(n, vocab)`.
        name: the process's name, for messages.
    """

    probabilities: np.ndarray
    token_probabilities: np.ndarray
    successors: np.ndarray
    name: str

    def markov_order(self) -> int:
        """Returns the Markov order `R`: the least `L` such that every word of `L` tokens fixes the causal state.

        Equivalently `H[S_L | X_1..X_L] = 0` for the causal state started from its stationary distribution, and
        `h(L + 1) = h` for the myopic entropies. It is finite exactly when no two distinct causal states can read
        the same word forever without meeting; then it is at most the number of ordered pairs of states.

        Raises:
            InfiniteOrderError: naming the process when the Markov order is infinite.
        """
        pairs = _distinct_pair_successors(self)
        order = _first_length_free_of(pairs, set(pairs))
        if order is None:
            raise InfiniteOrderError(
                f"{self.name}: the Markov order is infinite (two causal states read a word forever unmerged)"
            )
        return order

    def cryptic_order(self) -> int:
        """Returns the cryptic order `k`: the least `k` such that `H[S_k | X_1, X_2, ...] = 0`.

        The causal state after `k` tokens is then fixed by the whole sequence from the start (its first `k`
        tokens and what follows). It stays uncertain exactly when two distinct states reached by one word can
        still merge on a common word: after merging their futures coincide, so no future tells them apart.
        Pairs that never merge are told apart by almost every future (their predictions differ), so they do not
        count. `k <= R`.

        Raises:
            InfiniteOrderError: naming the process when the cryptic order is infinite.
        """
        pairs = _distinct_pair_successors(self)
        can_merge = {pair for pair, after in pairs.items() if any(a == b for a, b in after)}
        grown = True
        while grown:
            before = len(can_merge)
            can_merge |= {pair for pair, after in pairs.items() if any(a in can_merge for a in after)}
            grown = len(can_merge) > before
        order = _first_length_free_of(pairs, can_merge)
        if order is None:
            raise InfiniteOrderError(f"{self.name}: the cryptic order is infinite")
        return order


def graph_transition_matrix(graph: MixedStateGraph) -> np.ndarray:
    """Returns the mixed states' transition matrix, `P(next mixed state | mixed state)` summed over tokens."""
    size = len(graph.beliefs)
    matrix = np.zeros((size, size))
    for source, (probabilities, successors) in enumerate(zip(graph.token_probabilities, graph.successors, strict=True)):
        for probability, successor in zip(probabilities, successors, strict=True):
            if successor >= 0:
                matrix[source, successor] += probability
    return matrix / matrix.sum(axis=1, keepdims=True)


def _predictive_classes(graph: MixedStateGraph, decimals: int) -> np.ndarray:
    """Returns a class label per mixed state; states share a label iff they predict the same future."""
    rounded = np.round(graph.token_probabilities, decimals) + 0.0
    labels = np.unique(rounded, axis=0, return_inverse=True)[1].reshape(-1)
    while True:
        successor_labels = np.where(graph.successors >= 0, labels[np.maximum(graph.successors, 0)], -1)
        signature = np.concatenate([labels[:, None], successor_labels], axis=1)
        refined = np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
        if refined.max() == labels.max():
            return refined
        labels = refined


def causal_states(process: GenerativeProcess, max_states: int = 10_000, decimals: int = 10) -> CausalStates:
    """Returns the recurrent causal states of `process`, from its complete mixed-state presentation.

    Raises:
        UnboundedMixedStatesError: when the mixed-state presentation has more than `max_states` states.
    """
    graph = mixed_state_graph(process, max_states=max_states, decimals=decimals)
    start = np.zeros(len(graph.beliefs))
    start[0] = 1.0
    distribution = asymptotic_distribution(graph_transition_matrix(graph), start)
    labels = _predictive_classes(graph, decimals)
    recurrent = np.flatnonzero(distribution > 0)
    classes, representative = np.unique(labels[recurrent], return_index=True)
    index_of_class = {int(label): index for index, label in enumerate(classes)}
    members = recurrent[representative]
    successor_labels = np.where(graph.successors[members] >= 0, labels[np.maximum(graph.successors[members], 0)], -1)
    successors = np.vectorize(lambda label: index_of_class.get(int(label), -1))(successor_labels)
    return CausalStates(
        probabilities=np.bincount(
            [index_of_class[int(label)] for label in labels[recurrent]],
            weights=distribution[recurrent],
            minlength=len(classes),
        ),
        token_probabilities=graph.token_probabilities[members],
        successors=successors.reshape(len(members), -1).astype(np.int64),
        name=process.name,
    )


def _distinct_pair_successors(machine: CausalStates) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Maps each ordered pair of distinct causal states to the pairs they reach on a token possible from both."""
    size = len(machine.probabilities)
    pairs: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for first in range(size):
        for second in range(size):
            if first != second:
                common = (machine.successors[first] >= 0) & (machine.successors[second] >= 0)
                pairs[(first, second)] = [
                    (int(machine.successors[first, x]), int(machine.successors[second, x]))
                    for x in np.flatnonzero(common)
                ]
    return pairs


def _first_length_free_of(
    pairs: dict[tuple[int, int], list[tuple[int, int]]], unwanted: set[tuple[int, int]]
) -> int | None:
    """Returns the least `L` such that no pair of distinct states reached by one word of `L` tokens is unwanted.

    Words start from any two distinct states. None when there is no such `L`: past as many lengths as there are
    pairs, a reached pair lies on a cycle, so every longer length reaches one too.
    """
    current = set(pairs)
    for length in range(len(pairs) + 2):
        if not current & unwanted:
            return length
        current = {after for pair in current for after in pairs[pair] if after[0] != after[1]}
    return None
