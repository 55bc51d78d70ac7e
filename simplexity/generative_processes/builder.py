"""Builds generative processes by name, for Hydra `_target_`s and notebooks alike."""

from collections.abc import Callable
from typing import Any

import numpy as np

from simplexity.generative_processes import transition_matrices
from simplexity.generative_processes.generalized_hidden_markov_model import GeneralizedHiddenMarkovModel
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel

HMM_PROCESSES: dict[str, Callable[..., np.ndarray]] = {
    "mess3": transition_matrices.mess3,
    "coin": transition_matrices.coin,
    "days_of_week": transition_matrices.days_of_week,
    "even_ones": transition_matrices.even_ones,
    "no_consecutive_ones": transition_matrices.no_consecutive_ones,
    "mr_name": transition_matrices.mr_name,
    "rrxor": transition_matrices.rrxor,
    "leaky_rrxor": transition_matrices.leaky_rrxor,
    "sns": transition_matrices.sns,
    "zero_one_random": transition_matrices.zero_one_random,
    "random_insertion": transition_matrices.random_insertion,
    "matching_parens": transition_matrices.matching_parens,
}
GHMM_PROCESSES: dict[str, Callable[..., np.ndarray]] = {
    "fanizza": transition_matrices.fanizza,
    "post_quantum": transition_matrices.post_quantum,
    "tom_quantum": transition_matrices.tom_quantum,
}


def _transition_matrices(registry: dict[str, Callable[..., np.ndarray]], kind: str, process_name: str, params: Any):
    if process_name not in registry:
        allowed = ", ".join(sorted(registry))
        raise ValueError(f"process_name={process_name!r} is not a registered {kind}; allowed: {allowed}")
    for name, value in params.items():
        # Every parameter is a finite number; a NaN or infinity would otherwise fail later without its name.
        if isinstance(value, float) and not np.isfinite(value):
            raise ValueError(f"{process_name}: {name}={value} must be a finite number")
    try:
        return registry[process_name](**params)
    except (TypeError, ValueError) as error:  # a bad value, or an unknown or missing parameter name
        raise ValueError(f"{process_name}: {error}") from error


def build_hidden_markov_model(process_name: str, **params: Any) -> HiddenMarkovModel:
    """Returns the hidden Markov model of a registered process.

    Arguments:
        process_name: one of `HMM_PROCESSES`.
        **params: the process's parameters (see its function in `transition_matrices`).

    Raises:
        ValueError: naming the process, the parameter and what is allowed.

    Example:
        >>> process = build_hidden_markov_model("mess3", x=0.15, a=0.6)
        >>> process.vocab_size
        3
    """
    matrices = _transition_matrices(HMM_PROCESSES, "hidden Markov model", process_name, params)
    try:
        return HiddenMarkovModel(matrices, name=process_name)
    except ValueError as error:
        raise ValueError(f"{process_name}: {error}") from error


def build_generalized_hidden_markov_model(process_name: str, **params: Any) -> GeneralizedHiddenMarkovModel:
    """Returns the generalized hidden Markov model of a registered process (any of HMMs and GHMMs).

    Arguments:
        process_name: one of `GHMM_PROCESSES` or `HMM_PROCESSES`.
        **params: the process's parameters (see its function in `transition_matrices`).

    Raises:
        ValueError: naming the process, the parameter and what is allowed.
    """
    registry = GHMM_PROCESSES | HMM_PROCESSES
    matrices = _transition_matrices(registry, "generalized hidden Markov model", process_name, params)
    try:
        return GeneralizedHiddenMarkovModel(matrices, name=process_name)
    except ValueError as error:
        raise ValueError(f"{process_name}: {error}") from error
