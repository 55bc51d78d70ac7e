"""Stochastic processes with exactly known structure."""

from simplexity.generative_processes.builder import (
    GHMM_PROCESSES,
    HMM_PROCESSES,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
)
from simplexity.generative_processes.generalized_hidden_markov_model import GeneralizedHiddenMarkovModel
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel, stationary_distribution

__all__ = [
    "GHMM_PROCESSES",
    "HMM_PROCESSES",
    "GeneralizedHiddenMarkovModel",
    "GenerativeProcess",
    "HiddenMarkovModel",
    "build_generalized_hidden_markov_model",
    "build_hidden_markov_model",
    "stationary_distribution",
]
