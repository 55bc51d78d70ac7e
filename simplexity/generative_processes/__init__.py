"""Stochastic processes with exactly known structure."""

from simplexity.generative_processes.builder import HMM_TRANSITION_MATRICES, build_hidden_markov_model
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel, stationary_distribution
from simplexity.generative_processes.transition_matrices import mess3

__all__ = [
    "HMM_TRANSITION_MATRICES",
    "HiddenMarkovModel",
    "build_hidden_markov_model",
    "mess3",
    "stationary_distribution",
]
