"""Information quantities of a process, in nats (`to_bits` converts): the best any predictor can achieve.

Definitions follow Crutchfield and Feldman, "Regularities unseen, randomness observed" (2003): myopic entropy
`h(L) = H(X_L | X_1..X_{L-1})`, block entropy `H(L) = sum_{l <= L} h(l)`, entropy rate `h = lim h(L)`,
excess entropy `E = sum_L (h(L) - h)`, and statistical complexity `C = H(S)` over the recurrent causal states.
All are computed from the process's initial state, which is its stationary state unless one was given.
"""

import math
from collections.abc import Iterator

import numpy as np

from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel
from simplexity.generative_processes.mixed_state_presentation import (
    MixedStateGraph,
    ProcessArrays,
    iter_belief_layers,
    mixed_state_graph,
)


def entropy(probabilities: np.ndarray, axis: int = -1) -> np.ndarray:
    """Returns the Shannon entropy in nats along `axis`, with `0 log 0 = 0`."""
    p = np.asarray(probabilities, dtype=np.float64)
    terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis)


def to_bits(nats: float | np.ndarray) -> float | np.ndarray:
    """Returns an information quantity given in nats in bits."""
    return nats / math.log(2)


MAX_LAYER_STATES = 2_000_000


def _iter_myopic_entropies(process: GenerativeProcess, min_probability: float, decimals: int) -> Iterator[float]:
    """Yields `h(1), h(2), ...`: the expected entropy of the next token over the beliefs of each layer."""
    arrays = ProcessArrays.of(process)
    for layer in iter_belief_layers(process, min_probability, decimals):
        if len(layer.beliefs) > MAX_LAYER_STATES:
            raise ValueError(
                f"{len(layer.beliefs)} distinct mixed states after {layer.length} tokens, more than "
                f"{MAX_LAYER_STATES}; use a smaller length, a larger min_probability or fewer decimals"
            )
        token_probabilities, _ = arrays.successors(layer.beliefs)
        yield float(layer.probabilities @ entropy(token_probabilities))


def myopic_entropy(
    process: GenerativeProcess,
    max_length: int,
    min_probability: float = 0.0,
    decimals: int = 12,
    tolerance: float | None = None,
) -> np.ndarray:
    """Returns `H(X_l | X_1..X_{l-1})` in nats for `l = 1..max_length`, shape `(max_length,)`.

    Entry `l - 1` is the lowest expected loss (cross-entropy) a model can reach at context position `l - 1`,
    having seen `l - 1` tokens.

    Arguments:
        process: any generative process.
        max_length: how many positions.
        min_probability: mixed states of at most this probability are dropped (0: exact).
        decimals: beliefs equal to this many decimal places are merged.
        tolerance: when given, once two successive values differ by less than this, the remaining positions
            take the last value instead of being enumerated. This makes long contexts of processes with
            infinitely many mixed states (mess3) affordable; the values beyond that point are then approximate,
            off by about `tolerance` times the convergence ratio over one minus it.

    Raises:
        ValueError: when a layer holds more than `MAX_LAYER_STATES` mixed states before the end (or before
            convergence to `tolerance`).

    Example:
        >>> myopic_entropy(build_hidden_markov_model("coin", p=0.5), 3)
        array([0.69314718, 0.69314718, 0.69314718])
    """
    values: list[float] = []
    for value in _iter_myopic_entropies(process, min_probability, decimals):
        values.append(value)
        if len(values) == max_length:
            break
        if tolerance is not None and len(values) >= 2 and abs(values[-2] - values[-1]) < tolerance:
            values += [value] * (max_length - len(values))
            break
    return np.array(values)


def block_entropy(process: GenerativeProcess, max_length: int, decimals: int = 12) -> np.ndarray:
    """Returns `H(X_1..X_L)` in nats for `L = 0..max_length`, shape `(max_length + 1,)`."""
    return np.concatenate([[0.0], np.cumsum(myopic_entropy(process, max_length, decimals=decimals))])


def is_unifilar(process: GenerativeProcess) -> bool:
    """Returns whether `process` is an HMM in which a state and a token determine the next state."""
    if not isinstance(process, HiddenMarkovModel):
        return False
    return bool(np.all((np.asarray(process.transition_matrices) > 0).sum(axis=2) <= 1))


def entropy_rate(
    process: GenerativeProcess, tolerance: float = 1e-7, max_length: int = 500, decimals: int = 12
) -> float:
    """Returns the entropy rate in nats per token.

    For a unifilar HMM it is exact: `sum_i pi_i H(X | S = i)`. Otherwise it is the myopic entropy `h(L)` at the
    first `L` where `h(L - 1) - h(L) < tolerance`; `h(L)` decreases to the entropy rate from above.

    Raises:
        ValueError: when the myopic entropies have not converged by `max_length`.
    """
    if is_unifilar(process):
        arrays = ProcessArrays.of(process)
        return float(arrays.initial_state @ entropy(arrays.transition_matrices.sum(axis=2).T))
    previous = math.inf
    for length, current in enumerate(_iter_myopic_entropies(process, 0.0, decimals), start=1):
        if abs(previous - current) < tolerance:
            return current
        if length >= max_length:
            raise ValueError(
                f"entropy_rate: myopic entropies changed by {abs(previous - current):.3g} nats at length {length}, "
                f"more than tolerance={tolerance}; raise max_length or tolerance"
            )
        previous = current
    raise AssertionError("unreachable")


def excess_entropy(
    process: GenerativeProcess, tolerance: float = 1e-7, max_length: int = 500, decimals: int = 12
) -> float:
    """Returns the excess entropy `E = sum_L (h(L) - h)` in nats, summed until a term is below `tolerance`.

    Raises:
        ValueError: when the terms are still above `tolerance` at `max_length`.
    """
    rate = entropy_rate(process, tolerance, max_length, decimals)
    total = 0.0
    for length, myopic in enumerate(_iter_myopic_entropies(process, 0.0, decimals), start=1):
        term = myopic - rate
        total += term
        if abs(term) < tolerance:
            return total
        if length >= max_length:
            raise ValueError(f"excess_entropy: term {term:.3g} at length {length} is above tolerance={tolerance}")
    raise AssertionError("unreachable")


def statistical_complexity(process: GenerativeProcess, max_states: int = 10_000, decimals: int = 10) -> float:
    """Returns `C = H(S)` in nats over the recurrent causal states, weighted by their asymptotic probability.

    The causal states are the mixed states merged by their future (Moore minimisation of the mixed-state
    presentation); their asymptotic distribution from the initial state weights each closed class of mixed
    states by the probability of entering it.

    Raises:
        UnboundedMixedStatesError: when the mixed-state presentation has more than `max_states` states, as for
            processes with infinitely many causal states (mess3, the simple nonunifilar source).
    """
    graph = mixed_state_graph(process, max_states=max_states, decimals=decimals)
    distribution = _asymptotic_distribution(graph)
    classes = _predictive_classes(graph, decimals)
    return float(entropy(np.bincount(classes, weights=distribution)))


def _transition_matrix(graph: MixedStateGraph) -> np.ndarray:
    size = len(graph.beliefs)
    matrix = np.zeros((size, size))
    for source, (probabilities, successors) in enumerate(zip(graph.token_probabilities, graph.successors, strict=True)):
        for probability, successor in zip(probabilities, successors, strict=True):
            if successor >= 0:
                matrix[source, successor] += probability
    return matrix / matrix.sum(axis=1, keepdims=True)


def _strongly_connected_components(adjacency: list[list[int]]) -> list[list[int]]:
    """Returns the strongly connected components of a directed graph (Tarjan's algorithm, iterative)."""
    index_of: dict[int, int] = {}
    lowlink: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    components: list[list[int]] = []
    for root in range(len(adjacency)):
        if root in index_of:
            continue
        work = [(root, 0)]
        while work:
            node, edge = work.pop()
            if edge == 0:
                index_of[node] = lowlink[node] = len(index_of)
                stack.append(node)
                on_stack.add(node)
            if edge < len(adjacency[node]):
                work.append((node, edge + 1))
                child = adjacency[node][edge]
                if child not in index_of:
                    work.append((child, 0))
                elif child in on_stack:
                    lowlink[node] = min(lowlink[node], index_of[child])
                continue
            if lowlink[node] == index_of[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
    return components


def _asymptotic_distribution(graph: MixedStateGraph) -> np.ndarray:
    """Returns the long-run (time-averaged) distribution over mixed states, starting from mixed state 0."""
    matrix = _transition_matrix(graph)
    size = len(matrix)
    adjacency = [[int(node) for node in np.flatnonzero(row > 0)] for row in matrix]
    components = _strongly_connected_components(adjacency)
    closed = [c for c in components if all(set(adjacency[node]) <= set(c) for node in c)]
    recurrent = {node for component in closed for node in component}
    transient = [node for node in range(size) if node not in recurrent]
    distribution = np.zeros(size)
    for component in closed:
        # Probability of ever entering this class from the start: solve a = P_TT a + P_TC 1 on transient states.
        if 0 in component:
            entering = 1.0
        else:
            into_class = matrix[np.ix_(transient, component)].sum(axis=1)
            within = matrix[np.ix_(transient, transient)]
            absorption = np.linalg.solve(np.eye(len(transient)) - within, into_class)
            entering = float(absorption[transient.index(0)])
        block = matrix[np.ix_(component, component)]
        system = np.vstack([block.T - np.eye(len(component)), np.ones((1, len(component)))])
        target = np.zeros(len(component) + 1)
        target[-1] = 1.0
        stationary, *_ = np.linalg.lstsq(system, target, rcond=None)
        distribution[component] += entering * stationary
    return distribution


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
