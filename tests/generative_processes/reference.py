"""Float64 references written from the definitions, independent of the library's presentation and belief code.

Each registered process is rebuilt from its published transition matrices (`transition_matrices`), with its own
normalisation, stationary state and forward pass here.
"""

import math
from dataclasses import dataclass

import numpy as np

from simplexity.generative_processes import GHMM_PROCESSES, HMM_PROCESSES


@dataclass(frozen=True)
class Reference:
    matrices: np.ndarray  # (vocab, states, states), principal eigenvalue of their sum 1
    initial: np.ndarray  # stationary, initial @ right == 1
    right: np.ndarray  # (sum_x T[x]) @ right == right


def reference_process(name: str, **params) -> Reference:
    """The stationary process of a registered name, from its float64 matrices and numpy's eigenvectors."""
    matrices = np.asarray((HMM_PROCESSES | GHMM_PROCESSES)[name](**params), dtype=np.float64)
    total = matrices.sum(axis=0)
    values, vectors = np.linalg.eig(total)
    radius = float(np.max(np.real(values)))
    matrices = matrices / radius
    if name in HMM_PROCESSES:
        right = np.ones(total.shape[0])
    else:
        right = np.real(vectors[:, np.argmax(np.real(values))])
        right = right / right.sum() * len(right)
    left_values, left_vectors = np.linalg.eig(matrices.sum(axis=0).T)
    left = np.real(left_vectors[:, np.argmax(np.real(left_values))])
    return Reference(matrices, left / (left @ right), right)


def forward_log_probability(reference: Reference, tokens: np.ndarray) -> float:
    """`log P(tokens)` by the plain forward pass: one vector-matrix product per token, renormalised, logs summed."""
    state = reference.initial.copy()
    total = 0.0
    for token in tokens.tolist():
        state = state @ reference.matrices[token]
        mass = float(state @ reference.right)
        total += math.log(mass)
        state = state / mass
    return total


def belief_layers(reference: Reference, max_length: int, decimals: int = 12) -> list[dict[bytes, list]]:
    """Layers 0..max_length of `{rounded belief: [belief, probability]}`, merging words that reach one belief."""
    layer = {reference.initial.round(decimals).tobytes(): [reference.initial, 1.0]}
    layers = [layer]
    for _ in range(max_length):
        following: dict[bytes, list] = {}
        for belief, probability in layer.values():
            for matrix in reference.matrices:
                unnormalized = belief @ matrix
                mass = float(unnormalized @ reference.right)
                if mass <= 1e-14:
                    continue
                successor = unnormalized / mass
                key = (successor.round(decimals) + 0.0).tobytes()
                entry = following.setdefault(key, [successor, 0.0])
                entry[1] += probability * mass
        layer = following
        layers.append(layer)
    return layers


def entropy_of(probabilities) -> float:
    p = np.asarray(probabilities, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def myopic_entropies(reference: Reference, max_length: int) -> np.ndarray:
    """`h(1..max_length)` in nats from the merged belief layers."""
    values = []
    for layer in belief_layers(reference, max_length - 1):
        total = 0.0
        for belief, probability in layer.values():
            masses = np.array([belief @ matrix @ reference.right for matrix in reference.matrices])
            masses = np.clip(masses, 0.0, None)
            total += probability * entropy_of(masses / masses.sum())
        values.append(total)
    return np.array(values)


def word_probabilities(reference: Reference, length: int) -> np.ndarray:
    """`P(w)` for every word of `length` tokens, by expanding forward vectors (no merging)."""
    forward = reference.initial[None, :]
    for _ in range(length):
        forward = np.einsum("wi,xij->wxj", forward, reference.matrices).reshape(-1, len(reference.initial))
    return forward @ reference.right
