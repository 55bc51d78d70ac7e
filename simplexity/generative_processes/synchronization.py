"""How an observer synchronizes to a process: state uncertainty, synchronization information, crypticity, orders.

Definitions: Crutchfield and Feldman, "Regularities unseen, randomness observed" (2003), for the state
uncertainty `H[S_L | X_1..X_L]` and synchronization information; Mahoney, Ellison and Crutchfield,
"Information accessibility and cryptic processes" (2009), for crypticity and the cryptic order. All in nats,
float64, from the process's presentation.

A framed process (`SpecialTokenProcess`) has the synchronization information, crypticity and orders of the
process it frames (`content_process`): they count its content tokens. Its state uncertainty is that of each
framed position (0 before BOS is read).
"""

import math

import numpy as np

from simplexity.generative_processes.causal_states import causal_states
from simplexity.generative_processes.compositions import content_process
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.information import (
    ROUNDING_FLOOR,
    Estimate,
    LimitMonitor,
    entropy,
    estimate_excess_entropy,
    estimate_statistical_complexity,
)
from simplexity.generative_processes.mixed_state_presentation import iter_belief_layers


def _require_hidden_markov_model(process: GenerativeProcess, what: str) -> None:
    if not process.presentation.is_hidden_markov_model:
        raise ValueError(
            f"{process.name}: {what} needs hidden states, and a generalized HMM's states are not distributions"
        )


def state_uncertainty(process: GenerativeProcess, max_length: int, decimals: int = 12) -> np.ndarray:
    """Returns `H[S_L | X_1..X_L]` in nats for `L = 0..max_length`, shape `(max_length + 1,)`.

    The expected entropy of the observer's belief over the HMM's hidden states after `L` tokens, from the
    initial state: how far the observer is from knowing the state (Crutchfield and Feldman's `H(L)` of
    synchronization). It is over this presentation's states; for the causal states use the epsilon-machine.

    Raises:
        ValueError: naming the process when it is a generalized HMM (its states are not distributions).
    """
    _require_hidden_markov_model(process, "the state uncertainty")
    values = []
    for layer in iter_belief_layers(process, 0.0, decimals):
        values.append(float(layer.probabilities @ entropy(layer.beliefs)))
        if len(values) == max_length + 1:
            return np.array(values)
    raise AssertionError("unreachable")


def synchronization_information(
    process: GenerativeProcess, tolerance: float = 1e-6, max_length: int = 500, decimals: int = 12
) -> Estimate:
    """Returns the synchronization information `S = sum_{L >= 0} H[S_L | X_1..X_L]` in nats, with its bound.

    The total state uncertainty an observer passes through before it knows the hidden state; finite only when
    the state uncertainty decays to 0 (the observer synchronizes), as for a unifilar presentation. A framed
    process has the value of the process it frames (its BOS adds a term 0).

    Whether the uncertainty tends to a positive value is judged on its run since it last rose: from a start
    the observer knows (a BOS state, a one-hot start) it first jumps up, and only what follows decays.

    Raises:
        ValueError: naming the process when it is a generalized HMM, when the state uncertainty tends to a
            positive value (an observer of a nonunifilar presentation such as mess3's never synchronizes), or
            when the bound is not below `tolerance` by `max_length`.
    """
    process = content_process(process)
    _require_hidden_markov_model(process, "the synchronization information")
    to_zero, to_limit = LimitMonitor(limit=0.0), LimitMonitor()
    error = math.inf
    for length, layer in enumerate(iter_belief_layers(process, 0.0, decimals)):
        uncertainty = float(layer.probabilities @ entropy(layer.beliefs))
        to_zero.add(uncertainty)
        if to_limit.terms and uncertainty > to_limit.terms[-1] + ROUNDING_FLOOR:
            to_limit = LimitMonitor()  # a rise: the decay toward the limit starts here
        to_limit.add(uncertainty)
        result = to_zero.weighted_sum_of_excess(0)
        if result is not None and result[1] < tolerance:
            return Estimate(value=result[0], error_bound=result[1], length=length)
        limit = to_limit.limit_estimate()
        if limit is not None and limit[0] - limit[1] > tolerance:
            raise ValueError(
                f"{process.name}: the state uncertainty tends to {limit[0]:.6g} nats, not 0: an observer never "
                "synchronizes, so the synchronization information is infinite"
            )
        if result is not None:
            error = result[1]
        if length >= max_length:
            raise ValueError(
                f"{process.name}: synchronization information not within tolerance={tolerance} after {length} "
                f"tokens (error bound {error:.3g} nats); raise max_length or tolerance"
            )
    raise AssertionError("unreachable")


def crypticity(process: GenerativeProcess, max_states: int = 10_000, decimals: int = 10) -> Estimate:
    """Returns the crypticity `chi = C_mu - E` in nats, with the sum of the two error bounds.

    The part of the stored state information that is not shared with the future: `chi = H[S_0 | X_1, X_2, ...]`
    for the causal state `S_0` (Mahoney, Ellison and Crutchfield 2009). 0 exactly when the cryptic order is 0.
    A framed process has the crypticity of the process it frames.

    Raises:
        UnboundedMixedStatesError: when the statistical complexity is out of reach within `max_states` states
            (see `estimate_statistical_complexity`).
    """
    process = content_process(process)
    complexity = estimate_statistical_complexity(process, max_states=max_states, decimals=decimals)
    excess = estimate_excess_entropy(process)
    return Estimate(
        value=complexity.value - excess.value,
        error_bound=complexity.error_bound + excess.error_bound,
        length=excess.length,
    )


def markov_order(process: GenerativeProcess, max_states: int = 10_000, decimals: int = 10) -> int:
    """Returns the Markov order `R` of `process`: the least `R` with `h(R + 1) = h` (`CausalStates.markov_order`).

    The myopic entropies are those of the stationary process; a framed process has the order of the process it
    frames (`R` content tokens after BOS fix the causal state).

    Raises:
        InfiniteOrderError: naming the process when `R` is infinite (the even process, mess3).
        UnboundedMixedStatesError: when the process has more than `max_states` mixed states.
    """
    return causal_states(content_process(process), max_states, decimals).markov_order()


def cryptic_order(process: GenerativeProcess, max_states: int = 10_000, decimals: int = 10) -> int:
    """Returns the cryptic order `k` of `process`: the least `k` with `H[S_k | X_1, X_2, ...] = 0`.

    A framed process has the order of the process it frames.

    Raises:
        InfiniteOrderError: naming the process when `k` is infinite.
        UnboundedMixedStatesError: when the process has more than `max_states` mixed states.
    """
    return causal_states(content_process(process), max_states, decimals).cryptic_order()
