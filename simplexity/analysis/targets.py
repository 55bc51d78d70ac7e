"""Probe targets beyond the belief: what else a model's activations might hold, scored like the belief probe.

For a process whose epsilon-machine and reverse are finite, each context gets three more targets beside its belief
over the process's hidden states:

- `causal_state`: the distribution over the causal states given the context (the epsilon-machine's own belief;
  one-hot once the context has synchronised);
- `last_k_tokens`: a one-hot of the context's last `k` tokens (contexts shorter than `k` their own category);
- `reverse_belief`: the distribution over the reverse process's states given the context, `P(M | past) = sum_i
  P(S+ = i | past) P(M | S+ = i)`, with `M` the recurrent mixed states of the epsilon-machine read backwards
  (`bidirectional.reverse_mixed_states`): what the past says about the state the future will be read from.

Each is fitted and scored by the belief probe's rules (same contexts, weights, split and ridge) and reported beside
the process's `C_mu`, `E`, crypticities and cryptic order, which say how far apart the targets can be: a process
that is not cryptic (`chi+ = 0`) has a causal state its future reveals.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from simplexity.analysis.belief_dataset import BeliefDataset
from simplexity.analysis.belief_geometry import ModelOutputs, probe_features, probe_split
from simplexity.analysis.controls import last_token_categories
from simplexity.analysis.regression import ProbeResult, fit_probe
from simplexity.generative_processes import GenerativeProcess, InfiniteOrderError
from simplexity.generative_processes.bidirectional import (
    ReverseMixedStates,
    machine_process,
    reverse_mixed_states,
    stored_information_of,
)

BELIEF = "belief"


def probe_targets(
    process: GenerativeProcess, dataset: BeliefDataset, last_k: int = 2, mixed: ReverseMixedStates | None = None
) -> dict[str, np.ndarray]:
    """Returns each target for every context of `dataset`: `belief`, `causal_state`, `last_k_tokens`, `reverse_belief`.

    `mixed` is the process's `reverse_mixed_states`, computed here when None.

    Raises:
        UnboundedMixedStatesError: when the epsilon-machine or its reverse is not finite.
        ValueError: when the process does not start in its stationary state.
    """
    mixed = reverse_mixed_states(process) if mixed is None else mixed
    machine = machine_process(mixed.forward).presentation
    rows = np.arange(len(dataset))
    causal = machine.filter(dataset.tokens)[0][rows, dataset.lengths]  # after each context's last token
    categories = last_token_categories(dataset, last_k)
    return {
        BELIEF: dataset.beliefs,
        "causal_state": causal,
        "last_k_tokens": np.eye(int(categories.max()) + 1)[categories],
        "reverse_belief": causal @ mixed.reverse_given_forward(),
    }


@dataclass(frozen=True)
class TargetComparison:
    """The probes of each target from each activation, and what the process stores.

    Arguments:
        probes: target name to activation name (and `concatenated`) to its probe.
        last_k: the `k` of `last_k_tokens`.
        information: `C_mu`, `E`, both crypticities (nats) and the cryptic order (None where infinite).
    """

    probes: dict[str, dict[str, ProbeResult]]
    last_k: int
    information: dict[str, float | int | None]

    def summary(self) -> dict[str, Any]:
        """The held-out R^2 and RMSE of every probe, and the process's stored information, JSON-ready."""

        def number(value: float) -> float | None:
            return float(value) if np.isfinite(value) else None

        return {
            "last_k": self.last_k,
            "process": self.information,
            "probes": {
                target: {name: {"r2": number(probe.r2), "rmse": number(probe.rmse)} for name, probe in by_name.items()}
                for target, by_name in self.probes.items()
            },
        }


def compare_targets(
    process: GenerativeProcess,
    dataset: BeliefDataset,
    outputs: ModelOutputs,
    *,
    last_k: int = 2,
    weights: str = "probability",
    last_position_only: bool = False,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    ridge: float | None = None,
) -> TargetComparison:
    """Fits a probe of each target (`probe_targets`) from each activation of `outputs`, by the belief probe's rules.

    Raises:
        UnboundedMixedStatesError: when the epsilon-machine or its reverse is not finite.
    """
    mixed = reverse_mixed_states(process)
    targets = probe_targets(process, dataset, last_k, mixed)
    _, context_weights, train, test = probe_split(dataset, weights, last_position_only, test_fraction, split_seed)
    features = probe_features(outputs)
    probes = {
        target: {
            name: fit_probe(values, target_values, context_weights, train, test, ridge, split_seed)
            for name, values in features.items()
        }
        for target, target_values in targets.items()
    }
    stored = stored_information_of(mixed)
    try:
        cryptic_order: int | None = mixed.forward.cryptic_order()
    except InfiniteOrderError:
        cryptic_order = None
    information: dict[str, float | int | None] = {
        "statistical_complexity": stored.forward_complexity,
        "reverse_statistical_complexity": stored.reverse_complexity,
        "excess_entropy": stored.excess_entropy,
        "crypticity": stored.forward_crypticity,
        "reverse_crypticity": stored.reverse_crypticity,
        "cryptic_order": cryptic_order,
    }
    return TargetComparison(probes=probes, last_k=last_k, information=information)
