"""Processes derived from processes: the time reverse, Markov approximations, inflated vocabularies, random machines.

Each result is a process like any other, usable from configs as a `_target_`. Each transform works on the float64
`presentation` of its input and returns a new hidden Markov model (or a generalized one where the input is), so
every exact quantity of the result is computed as for any process.
"""

import itertools

import jax
import numpy as np

from simplexity.generative_processes.generalized_hidden_markov_model import (
    AbstractGeneralizedHiddenMarkovModel,
    GeneralizedHiddenMarkovModel,
)
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel
from simplexity.generative_processes.presentation import Presentation

# The most states an order-k Markov approximation may have (its states are the k-words of positive probability).
MAX_MARKOV_STATES = 100_000
# How many draws `random_epsilon_machine` makes before it gives up on the constraints.
MAX_DRAWS = 1_000


def _presentation(process: GenerativeProcess) -> Presentation:
    presentation = getattr(process, "presentation", None)
    if not isinstance(presentation, Presentation):
        raise TypeError(f"{type(process).__name__} has no finite linear presentation to transform")
    return presentation


def _name(process: GenerativeProcess) -> str:
    return str(getattr(process, "name", type(process).__name__))


def _require_stationary(presentation: Presentation, name: str, transform: str) -> np.ndarray:
    """Returns the stationary state `pi` the process starts in, or raises naming the transform."""
    start = presentation.initial_state
    state_transitions = presentation.transition_matrices.sum(axis=0)
    if not np.allclose(start @ state_transitions, start, atol=1e-12):
        raise ValueError(f"{name}: {transform} needs a process started in its stationary state")
    return start


def time_reverse(process: GenerativeProcess) -> AbstractGeneralizedHiddenMarkovModel:
    """Returns the time reverse of a stationary process: it emits every word with the probability of its reverse.

    For a hidden Markov model with stationary distribution `pi` (all positive on the states it keeps), the reverse
    is again a hidden Markov model, `T~[x] = D^-1 T[x]^T D` with `D = diag(pi)`, started in `pi`; states of
    probability 0 are dropped first. A generalized model's reverse is `T~[x] = T[x]^T`, started in its normalising
    vector `r` and normalised by the forward stationary state.

    Raises:
        ValueError: when the process does not start in its stationary state.
    """
    presentation = _presentation(process)
    name = f"{_name(process)}_reversed"
    start = _require_stationary(presentation, _name(process), "the time reverse")
    matrices = presentation.transition_matrices
    if presentation.is_hidden_markov_model:
        kept = start > 0
        pi = start[kept]
        forward = matrices[:, kept][:, :, kept]
        reverse = forward.transpose(0, 2, 1) * pi[None, None, :] / pi[None, :, None]
        return HiddenMarkovModel(reverse, initial_state=pi, name=name)
    normalizer = presentation.normalizing_eigenvector
    return GeneralizedHiddenMarkovModel(
        matrices.transpose(0, 2, 1),
        initial_state=normalizer / (normalizer @ start),
        normalizing_eigenvector=start,
        name=name,
    )


def _word_probabilities(presentation: Presentation, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns every word of `length` tokens of positive probability and its probability, in lexicographic order."""
    words = np.zeros((1, 0), dtype=np.int64)
    states = presentation.initial_state[None, :]
    for _ in range(length):
        vocab = presentation.vocab_size
        extended = np.concatenate(
            [np.repeat(words, vocab, axis=0), np.tile(np.arange(vocab), len(words))[:, None]], axis=1
        )
        unnormalized = np.einsum("ni,xij->nxj", states, presentation.transition_matrices).reshape(len(extended), -1)
        masses = unnormalized @ presentation.normalizing_eigenvector
        keep = masses > 1e-300
        if len(extended) > MAX_MARKOV_STATES * vocab:
            raise ValueError(f"more than {MAX_MARKOV_STATES} words of {length} tokens")
        words, states = extended[keep], unnormalized[keep]
    return words, states @ presentation.normalizing_eigenvector


def markov_approximation(process: GenerativeProcess, order: int) -> HiddenMarkovModel:
    """Returns the order-`order` Markov approximation: the process that remembers only its last `order` tokens.

    Its states are the words of `order` tokens of positive probability; from word `w` it emits `x` with the
    process's exact `P(x | w)` and moves to the word `w[1:] + x`; it starts in `P(w)`. It gives every word of up
    to `order + 1` tokens the process's own probability. Order 0 is the process's one-token distribution, i.i.d.

    Raises:
        ValueError: for a negative order, or more than `MAX_MARKOV_STATES` words of `order` tokens.
    """
    if isinstance(order, bool) or not isinstance(order, int) or order < 0:
        raise ValueError(f"order={order!r} must be a non-negative integer")
    presentation = _presentation(process)
    name = f"{_name(process)}_markov_{order}"
    vocab = presentation.vocab_size
    words, probabilities = _word_probabilities(presentation, order + 1)
    contexts = {tuple(word[:-1]) for word in words}
    index = {context: number for number, context in enumerate(sorted(contexts))}
    context_probabilities = np.zeros(len(index))
    matrices = np.zeros((vocab, len(index), len(index)))
    for word, probability in zip(words, probabilities, strict=True):
        context = tuple(word[:-1])
        context_probabilities[index[context]] += probability
        successor = (*context[1:], int(word[-1])) if order > 0 else ()
        matrices[word[-1], index[context], index[successor]] += probability
    matrices /= context_probabilities[None, :, None]
    # A successor word may have probability 0 after some context only; every state reached is a state kept.
    return HiddenMarkovModel(matrices, initial_state=context_probabilities / context_probabilities.sum(), name=name)


def inflate_vocabulary(process: GenerativeProcess, factor: int) -> AbstractGeneralizedHiddenMarkovModel:
    """Returns the process in which each token `x` becomes one of `x * factor .. x * factor + factor - 1`, uniformly.

    Each token's probability is split evenly, so every myopic entropy, the entropy rate and a model's optimal loss
    rise by exactly `log(factor)` nats, while the hidden structure (beliefs, statistical complexity, excess entropy)
    is unchanged. A hidden Markov model stays one.

    Raises:
        ValueError: for a factor that is not a positive integer.
    """
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
        raise ValueError(f"factor={factor!r} must be a positive integer")
    presentation = _presentation(process)
    name = f"{_name(process)}_inflated_{factor}"
    matrices = np.repeat(presentation.transition_matrices, factor, axis=0) / factor
    if presentation.is_hidden_markov_model:
        return HiddenMarkovModel(matrices, initial_state=presentation.initial_state, name=name)
    return GeneralizedHiddenMarkovModel(
        matrices,
        initial_state=presentation.initial_state,
        normalizing_eigenvector=presentation.normalizing_eigenvector,
        name=name,
    )


def _strongly_connected(successors: np.ndarray) -> bool:
    """Whether every state reaches every other along the transitions (`successors[i, x]`, -1 for none)."""
    num_states = len(successors)

    def reached(adjacency: list[set[int]]) -> set[int]:
        seen, frontier = {0}, [0]
        while frontier:
            state = frontier.pop()
            for successor in adjacency[state] - seen:
                seen.add(successor)
                frontier.append(successor)
        return seen

    forward = [{int(s) for s in row if s >= 0} for row in successors]
    backward: list[set[int]] = [set() for _ in range(num_states)]
    for state, row in enumerate(forward):
        for successor in row:
            backward[successor].add(state)
    return len(reached(forward)) == num_states and len(reached(backward)) == num_states


def _is_minimal(token_probabilities: np.ndarray, successors: np.ndarray) -> bool:
    """Whether no two states of a unifilar machine predict the same future (Moore's partition refinement)."""
    classes = np.unique(np.round(token_probabilities, 12), axis=0, return_inverse=True)[1].reshape(-1)
    while True:
        signature = np.concatenate([classes[:, None], np.where(successors >= 0, classes[successors], -1)], axis=1)
        refined = np.unique(signature, axis=0, return_inverse=True)[1].reshape(-1)
        if len(np.unique(refined)) == len(np.unique(classes)):
            return len(np.unique(refined)) == len(successors)
        classes = refined


def random_epsilon_machine(num_states: int, vocab_size: int, seed: int = 0) -> HiddenMarkovModel:
    """Returns a random epsilon-machine: unifilar, strongly connected and minimal by construction.

    Each state emits a random non-empty set of tokens (each present with probability 1/2, at least one) with
    Dirichlet(1) probabilities, each to a uniformly drawn successor. A draw that is not strongly connected or not
    minimal (two states with the same future) is rejected and redrawn; every draw comes from `jax.random.key(seed)`.

    Raises:
        ValueError: for sizes that are not positive, or no draw meeting the constraints in `MAX_DRAWS`.
    """
    for label, value in (("num_states", num_states), ("vocab_size", vocab_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{label}={value!r} must be a positive integer")
    if num_states > 1 and vocab_size < 2:
        raise ValueError(f"vocab_size={vocab_size} must be at least 2 for a machine of {num_states} states")
    key = jax.random.key(seed)
    for draw in range(MAX_DRAWS):
        present_key, forced_key, weight_key, successor_key = jax.random.split(jax.random.fold_in(key, draw), 4)
        present = np.array(jax.random.bernoulli(present_key, 0.5, (num_states, vocab_size)))
        forced = np.asarray(jax.random.randint(forced_key, (num_states,), 0, vocab_size))
        present[np.arange(num_states), forced] = True
        weights = np.asarray(jax.random.exponential(weight_key, (num_states, vocab_size)), dtype=np.float64)
        weights = np.where(present, weights, 0.0)
        token_probabilities = weights / weights.sum(axis=1, keepdims=True)
        successors = np.where(
            present, np.asarray(jax.random.randint(successor_key, (num_states, vocab_size), 0, num_states)), -1
        )
        if _strongly_connected(successors) and _is_minimal(token_probabilities, successors):
            matrices = np.zeros((vocab_size, num_states, num_states))
            for state, token in itertools.product(range(num_states), range(vocab_size)):
                if successors[state, token] >= 0:
                    matrices[token, state, successors[state, token]] = token_probabilities[state, token]
            return HiddenMarkovModel(matrices, name=f"random_epsilon_machine_{num_states}_{vocab_size}_{seed}")
    raise ValueError(
        f"no strongly connected minimal machine of num_states={num_states}, vocab_size={vocab_size} in "
        f"{MAX_DRAWS} draws"
    )
