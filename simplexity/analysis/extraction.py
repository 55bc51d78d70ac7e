"""The machine a trained network implements, read off its predictions, and scored against the true epsilon-machine.

Every context of `context_len` and `context_len + 1` tokens is enumerated with its exact probability. Each
context's *signature* is the model's distribution over the next `depth` tokens (`vocab ** depth` numbers, the
product of its next-token predictions along each continuation). Contexts are joined, in order of decreasing
probability, to the first cluster whose leader's signature is within `tolerance` in L1 distance; the tolerance
comes from the model's exact excess loss `e` (nats per token) by Pinsker's inequality: two predictions within KL
`depth * e` of one true distribution are within `2 sqrt(2 depth e)` of each other in L1. A cluster is a state;
its transition on token `x` goes to the cluster holding most of the probability of the contexts `c x` (`c` of
`context_len` tokens in the cluster), with the probability the model gives `x` there. The states kept are those of
positive long-run probability (contexts that have not synchronised form transient clusters, which drop out).

Against the true epsilon-machine the states are matched by the permutation under which most transitions agree
(same successor, probabilities within `PROBABILITY_AGREEMENT`), searched exhaustively up to 8 states.
"""

import itertools
from dataclasses import dataclass

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int

from simplexity.analysis.belief_dataset import belief_dataset
from simplexity.analysis.interventions import kl_divergence
from simplexity.generative_processes import GenerativeProcess
from simplexity.generative_processes.export import Machine, epsilon_machine
from simplexity.generative_processes.information import entropy
from simplexity.generative_processes.markov_chain import asymptotic_distribution
from simplexity.predictive_models import PredictiveModel

# Two transitions agree when they lead to matched states with probabilities within this much.
PROBABILITY_AGREEMENT = 0.05
# The least L1 tolerance between signatures (float32 predictions of an exact model differ by about 1e-6).
MIN_TOLERANCE = 1e-3
# The most sequences the model is run on (every context of context_len + 1 tokens times every continuation).
MAX_SEQUENCES = 4_000_000
# The most states matched against the true machine by trying every permutation.
MAX_MATCHED_STATES = 8


@dataclass(frozen=True)
class ExtractedMachine:
    """A machine read off a model's predictions, beside the true epsilon-machine.

    Arguments:
        machine: the extracted recurrent states, transitions and long-run probabilities.
        true_machine: the process's epsilon-machine.
        tolerance: the L1 distance within which signatures were joined.
        excess_loss: the model's exact excess loss per token over the contexts (nats), the tolerance's source.
        transition_agreement: the share of the true machine's transitions that the extracted one has, after
            matching states (1 when it is the true machine).
        matching: true state index for each extracted state (-1 where unmatched).
    """

    machine: Machine
    true_machine: Machine
    tolerance: float
    excess_loss: float
    transition_agreement: float
    matching: tuple[int, ...]

    @property
    def statistical_complexity(self) -> float:
        """`C_mu` of the extracted machine: the entropy of its states' long-run probabilities (nats)."""
        return _entropy(self.machine.state_probabilities)

    @property
    def true_statistical_complexity(self) -> float:
        """`C_mu` of the true epsilon-machine (nats)."""
        return _entropy(self.true_machine.state_probabilities)

    @property
    def recovered(self) -> bool:
        """Whether the extracted machine is the true one: as many states and every transition agreeing."""
        return len(self.machine.labels) == len(self.true_machine.labels) and self.transition_agreement == 1.0

    def summary(self) -> dict[str, float | int | bool | None]:
        """The numbers as JSON-ready values (NaN becomes None)."""
        agreement = float(self.transition_agreement)
        return {
            "states_found": len(self.machine.labels),
            "true_states": len(self.true_machine.labels),
            "transition_agreement": agreement if np.isfinite(agreement) else None,
            "statistical_complexity": self.statistical_complexity,
            "true_statistical_complexity": self.true_statistical_complexity,
            "tolerance": float(self.tolerance),
            "excess_loss": self.excess_loss,
            "recovered": bool(self.recovered),
        }


def _entropy(probabilities: np.ndarray | None) -> float:
    return float("nan") if probabilities is None else float(entropy(probabilities)) + 0.0  # no negative zero


@eqx.filter_jit
def _every_log_probability(model: PredictiveModel, tokens: Int[Array, "batch seq"]) -> Array:
    return jax.nn.log_softmax(model(tokens).astype(jnp.float32), axis=-1)


def _log_probabilities(model: PredictiveModel, tokens: np.ndarray, batch_size: int) -> np.ndarray:
    """The model's next-token log-probabilities at every position, float64, `(n, seq, vocab)`."""
    chunks = [
        np.asarray(_every_log_probability(model, jnp.asarray(tokens[start : start + batch_size])))
        for start in range(0, len(tokens), batch_size)
    ]
    return np.concatenate(chunks).astype(np.float64)


def signatures(model: PredictiveModel, contexts: np.ndarray, vocab: int, depth: int, batch_size: int) -> np.ndarray:
    """Returns the model's distribution over the next `depth` tokens after each context, `(n, vocab ** depth)`."""
    continuations = np.array(list(itertools.product(range(vocab), repeat=depth)), dtype=np.int32)
    tokens = np.concatenate(
        [np.repeat(contexts, len(continuations), axis=0), np.tile(continuations, (len(contexts), 1))], axis=1
    )
    log_probabilities = _log_probabilities(model, tokens, batch_size)
    length = contexts.shape[1]
    rows = np.arange(len(tokens))[:, None]
    positions = length - 1 + np.arange(depth)[None, :]
    read = log_probabilities[rows, positions, tokens[:, length : length + depth]]
    # After a token the model calls impossible an exact filter's state is undefined (NaN); the product is 0.
    read = np.nan_to_num(read, nan=-np.inf)
    return np.exp(read.sum(axis=1)).reshape(len(contexts), len(continuations))


def _cluster(signature: np.ndarray, order: np.ndarray, tolerance: float) -> np.ndarray:
    """Leader clustering in `order`: each row joins the first leader within `tolerance` (L1), else leads one."""
    labels = np.full(len(signature), -1)
    leaders: list[np.ndarray] = []
    for row in order:
        for index, leader in enumerate(leaders):
            if np.abs(signature[row] - leader).sum() <= tolerance:
                labels[row] = index
                break
        else:
            labels[row] = len(leaders)
            leaders.append(signature[row])
    return labels


def _agreement(extracted: np.ndarray, true: np.ndarray) -> tuple[float, tuple[int, ...]]:
    """The share of the true transitions the extracted matrices reproduce under the best matching of states."""
    true_transitions = list(zip(*np.nonzero(true), strict=True))
    found, wanted = extracted.shape[1], true.shape[1]
    if not true_transitions:
        return 1.0, tuple(range(found))
    if max(found, wanted) > MAX_MATCHED_STATES:
        return float("nan"), tuple([-1] * found)
    best, best_matching = -1, tuple([-1] * found)
    # Each extracted state goes to a distinct true state or to none (-1).
    for assignment in itertools.permutations([*range(wanted), *([-1] * max(found - wanted, 0))], found):
        inverse = {true_state: state for state, true_state in enumerate(assignment) if true_state >= 0}
        agreeing = 0
        for token, source, target in true_transitions:
            if source in inverse and target in inverse:
                weight = extracted[token, inverse[source], inverse[target]]
                agreeing += abs(weight - true[token, source, target]) <= PROBABILITY_AGREEMENT
        if agreeing > best:
            best, best_matching = agreeing, tuple(assignment)
    return best / len(true_transitions), best_matching


def extract_machine(
    model: PredictiveModel,
    process: GenerativeProcess,
    context_len: int,
    depth: int = 3,
    batch_size: int = 4096,
) -> ExtractedMachine:
    """Returns the machine `model` implements on `process`, read off its predictions (see the module description).

    Arguments:
        model: a predictive model of the process's tokens; it must accept `context_len + 1 + depth` tokens.
        process: the process, whose exact word probabilities weight the contexts and whose epsilon-machine is the
            reference (it must be finite).
        context_len: the length of the contexts whose states are read.
        depth: how many tokens ahead each signature looks.
        batch_size: sequences per forward pass.

    Raises:
        UnboundedMixedStatesError: when the process's epsilon-machine cannot be built (infinite mixed states).
        ValueError: when the contexts and continuations are more than `MAX_SEQUENCES` sequences.
    """
    vocab = process.vocab_size
    if vocab ** (context_len + 1 + depth) > MAX_SEQUENCES:
        raise ValueError(
            f"context_len={context_len} and depth={depth} ask for up to {vocab}^{context_len + 1 + depth} sequences "
            f"of the model, more than {MAX_SEQUENCES:,}; shorten them"
        )
    dataset = belief_dataset(process, context_len + 1)
    lengths = dataset.lengths
    chosen = np.flatnonzero(lengths >= context_len)
    contexts = dataset.tokens[chosen]
    weights = dataset.probabilities[chosen]
    short = lengths[chosen] == context_len
    # The model's exact excess loss over the chosen contexts (per token), from its next-token predictions.
    predicted = _log_probabilities(model, contexts, batch_size)[np.arange(len(contexts)), lengths[chosen] - 1]
    kl = kl_divergence(dataset.next_token_probabilities[chosen], predicted)
    excess_loss = float(np.average(kl, weights=weights))
    tolerance = max(2.0 * np.sqrt(2.0 * depth * max(excess_loss, 0.0)), MIN_TOLERANCE)
    signature = np.concatenate(
        [
            signatures(model, contexts[short][:, :context_len], vocab, depth, batch_size),
            signatures(model, contexts[~short], vocab, depth, batch_size),
        ]
    )
    order_weights = np.concatenate([weights[short], weights[~short]])
    labels = _cluster(signature, np.argsort(-order_weights, kind="stable"), tolerance)
    short_labels, long_labels = labels[: short.sum()], labels[short.sum() :]
    short_contexts, long_contexts = contexts[short][:, :context_len], contexts[~short]
    short_weights, long_weights = weights[short], weights[~short]
    index_of_long = {tuple(row): index for index, row in enumerate(long_contexts)}
    num_clusters = int(labels.max()) + 1
    # Transitions from the clusters of the contexts of context_len tokens: weighted votes for the successor.
    mass = np.zeros((num_clusters, vocab))
    votes = np.zeros((num_clusters, vocab, num_clusters))
    for row, context in enumerate(short_contexts):
        for token in range(vocab):
            successor = index_of_long.get((*context, token))
            if successor is None:
                continue
            weight = long_weights[successor]
            mass[short_labels[row], token] += weight
            votes[short_labels[row], token, long_labels[successor]] += weight
    totals = mass.sum(axis=1, keepdims=True)
    token_probabilities = mass / np.where(totals > 0, totals, 1.0)
    matrices = np.zeros((vocab, num_clusters, num_clusters))
    for cluster, token in itertools.product(range(num_clusters), range(vocab)):
        if mass[cluster, token] > 0:
            matrices[token, cluster, int(np.argmax(votes[cluster, token]))] = token_probabilities[cluster, token]
    # Keep the states of positive long-run probability, starting from where the contexts' probability lies.
    start = np.bincount(short_labels, weights=short_weights, minlength=num_clusters)
    transitions = matrices.sum(axis=0)
    stochastic = transitions.sum(axis=1) > 0
    transitions[~stochastic, ~stochastic] = 1.0  # a cluster of longer contexts only: absorbing, never recurrent mass
    long_run = asymptotic_distribution(transitions, start / start.sum())
    kept = np.flatnonzero((long_run > 1e-9) & stochastic)
    kept_matrices = matrices[:, kept][:, :, kept]
    machine = Machine(
        name=f"{process.name}: extracted from the model",
        matrices=kept_matrices,
        labels=tuple(f"k{state}" for state in range(len(kept))),
        state_probabilities=long_run[kept] / long_run[kept].sum(),
    )
    true_machine = epsilon_machine(process)
    agreement, matching = _agreement(kept_matrices, true_machine.matrices)
    return ExtractedMachine(
        machine=machine,
        true_machine=true_machine,
        tolerance=tolerance,
        excess_loss=excess_loss,
        transition_agreement=agreement,
        matching=matching,
    )
