"""Builds generative processes by name, for Hydra `_target_`s and notebooks alike."""

from collections.abc import Callable

import numpy as np

from simplexity.generative_processes import transition_matrices
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel

HMM_TRANSITION_MATRICES: dict[str, Callable[..., np.ndarray]] = {
    "mess3": transition_matrices.mess3,
}


def build_hidden_markov_model(process_name: str, **params: float) -> HiddenMarkovModel:
    """Returns the hidden Markov model of a registered process.

    Arguments:
        process_name: one of `HMM_TRANSITION_MATRICES`.
        **params: the process's parameters (see its function in `transition_matrices`).

    Example:
        >>> process = build_hidden_markov_model("mess3", x=0.15, a=0.6)
        >>> process.vocab_size
        3
    """
    if process_name not in HMM_TRANSITION_MATRICES:
        allowed = ", ".join(sorted(HMM_TRANSITION_MATRICES))
        raise ValueError(f"process_name={process_name!r} is not a registered hidden Markov model; allowed: {allowed}")
    try:
        matrices = HMM_TRANSITION_MATRICES[process_name](**params)
    except TypeError as error:  # an unknown or missing parameter name
        raise ValueError(f"{process_name}: {error}") from error
    return HiddenMarkovModel(matrices)
