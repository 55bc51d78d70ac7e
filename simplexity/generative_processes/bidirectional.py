"""Excess entropy and crypticity exactly, from the forward epsilon-machine and its time reverse.

Wherever both machines are finite (together, the bidirectional machine), the excess entropy is the information
the forward causal state shares with the reverse one, `E = I[S+; S-]` (Ellison, Mahoney and Crutchfield 2009,
"Prediction, retrodiction, and the amount of information stored in the present"). The reverse causal state is a
sufficient statistic of the future, so `E = H[S+] - H[S+ | future]`. Read backwards, the forward epsilon-machine
presents the reverse process with the forward causal states as its hidden states (`time_reverse`); its recurrent
mixed states are the distributions `P(S+ | future)`, each with its long-run probability. Hence
`E = C+ - sum_m P(m) H(m)`, a finite sum exact to float64 rounding, in place of the limit of block entropies. The
crypticities follow: `chi+ = C+ - E` and `chi- = C- - E`.
"""

from dataclasses import dataclass

import numpy as np

from simplexity.generative_processes.causal_states import CausalStates, causal_states, graph_transition_matrix
from simplexity.generative_processes.export import transition_tensor
from simplexity.generative_processes.generalized_hidden_markov_model import AbstractGeneralizedHiddenMarkovModel
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel
from simplexity.generative_processes.markov_chain import asymptotic_distribution
from simplexity.generative_processes.mixed_state_presentation import mixed_state_graph
from simplexity.generative_processes.transforms import time_reverse


def _entropy(probabilities: np.ndarray) -> float:
    positive = probabilities[probabilities > 0]
    return float(-np.sum(positive * np.log(positive)))


def machine_process(machine: CausalStates) -> HiddenMarkovModel:
    """Returns the epsilon-machine as a hidden Markov model started in its stationary distribution."""
    matrices = transition_tensor(machine.token_probabilities, machine.successors)
    return HiddenMarkovModel(matrices, initial_state=machine.probabilities, name=f"{machine.name} epsilon-machine")


@dataclass(frozen=True)
class StoredInformation:
    """How much a stationary process stores, forward and backward, in nats.

    Arguments:
        excess_entropy: `E = I[S+; S-]`, what the past shares with the future.
        forward_complexity: `C+ = H[S+]`, the forward statistical complexity.
        reverse_complexity: `C- = H[S-]`, the reverse statistical complexity.
    """

    excess_entropy: float
    forward_complexity: float
    reverse_complexity: float

    @property
    def forward_crypticity(self) -> float:
        """`chi+ = C+ - E = H[S+ | S-]`: what the forward causal state holds that the future never reveals."""
        return self.forward_complexity - self.excess_entropy

    @property
    def reverse_crypticity(self) -> float:
        """`chi- = C- - E = H[S- | S+]`."""
        return self.reverse_complexity - self.excess_entropy


@dataclass(frozen=True)
class ReverseMixedStates:
    """The forward epsilon-machine and the recurrent mixed states of its time reverse.

    Arguments:
        forward: the forward causal states.
        reverse: the forward epsilon-machine read backwards, a presentation of the reverse process whose hidden
            states are the forward causal states.
        beliefs: each recurrent mixed state of `reverse`, `P(S+ | future)`, shape `(m, forward states)`.
        probabilities: each one's long-run probability, shape `(m,)`.
    """

    forward: CausalStates
    reverse: AbstractGeneralizedHiddenMarkovModel
    beliefs: np.ndarray
    probabilities: np.ndarray

    @property
    def excess_entropy(self) -> float:
        """`E = C+ - sum_m P(m) H(m)`."""
        remaining = sum(
            weight * _entropy(belief) for weight, belief in zip(self.probabilities, self.beliefs, strict=True)
        )
        return float(_entropy(self.forward.probabilities) - remaining)

    def reverse_given_forward(self) -> np.ndarray:
        """`P(M = m | S+ = i)`, shape `(forward states, m)`: which future-state the present forward state leads to."""
        joint = self.probabilities[:, None] * self.beliefs  # P(M = m, S+ = i)
        marginal = joint.sum(axis=0)
        return (joint / np.where(marginal > 0, marginal, 1.0)[None, :]).T


def reverse_mixed_states(process: GenerativeProcess, max_states: int = 10_000) -> ReverseMixedStates:
    """Returns the forward epsilon-machine and the recurrent mixed states of the machine read backwards.

    Raises:
        UnboundedMixedStatesError: when either mixed-state presentation has more than `max_states` states.
        ValueError: when the process does not start in its stationary state.
    """
    forward = causal_states(process, max_states=max_states)
    reverse = time_reverse(machine_process(forward))
    graph = mixed_state_graph(reverse, max_states=max_states)
    start = np.zeros(len(graph.beliefs))
    start[0] = 1.0
    long_run = asymptotic_distribution(graph_transition_matrix(graph), start)
    recurrent = long_run > 0
    return ReverseMixedStates(forward, reverse, graph.beliefs[recurrent], long_run[recurrent])


def stored_information(process: GenerativeProcess, max_states: int = 10_000) -> StoredInformation:
    """Returns `E`, `C+` and `C-` exactly, from the forward epsilon-machine and the mixed states of its reverse.

    Raises:
        UnboundedMixedStatesError: when the mixed-state presentation of the process, or that of its reversed
            epsilon-machine, has more than `max_states` states (a machine that is not finite both ways).
        ValueError: when the process does not start in its stationary state.
    """
    return stored_information_of(reverse_mixed_states(process, max_states), max_states)


def stored_information_of(mixed: ReverseMixedStates, max_states: int = 10_000) -> StoredInformation:
    """Returns `E`, `C+` and `C-` from a process's `reverse_mixed_states`.

    Raises:
        UnboundedMixedStatesError: when the reverse process's mixed states exceed `max_states`.
    """
    return StoredInformation(
        excess_entropy=mixed.excess_entropy,
        forward_complexity=_entropy(mixed.forward.probabilities),
        reverse_complexity=_entropy(causal_states(mixed.reverse, max_states=max_states).probabilities),
    )
