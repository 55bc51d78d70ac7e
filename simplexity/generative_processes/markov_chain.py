"""Finite Markov chains: strongly connected components and the long-run distribution from a start."""

from collections.abc import Sequence

import numpy as np


def strongly_connected_components(adjacency: Sequence[Sequence[int]]) -> list[list[int]]:
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


def asymptotic_distribution(matrix: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Returns the long-run (time-averaged) distribution of a Markov chain started from `start`.

    Each closed class of states gets the probability of ever entering it from `start`, spread by its own
    stationary distribution; transient states get 0.

    Arguments:
        matrix: row-stochastic transition matrix, shape `(n, n)`.
        start: initial distribution, shape `(n,)`.
    """
    size = len(matrix)
    adjacency = [[int(node) for node in np.flatnonzero(row > 0)] for row in matrix]
    components = strongly_connected_components(adjacency)
    closed = [c for c in components if all(set(adjacency[node]) <= set(c) for node in c)]
    recurrent = {node for component in closed for node in component}
    transient = [node for node in range(size) if node not in recurrent]
    within = matrix[np.ix_(transient, transient)]
    distribution = np.zeros(size)
    for component in closed:
        # Probability of entering this class from each transient state: solve a = P_TT a + P_TC 1.
        absorption = np.linalg.solve(np.eye(len(transient)) - within, matrix[np.ix_(transient, component)].sum(axis=1))
        entering = start[component].sum() + start[transient] @ absorption
        block = matrix[np.ix_(component, component)]
        system = np.vstack([block.T - np.eye(len(component)), np.ones((1, len(component)))])
        target = np.zeros(len(component) + 1)
        target[-1] = 1.0
        stationary, *_ = np.linalg.lstsq(system, target, rcond=None)
        distribution[component] += entering * stationary
    return distribution
