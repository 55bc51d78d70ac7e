"""Stochastic processes with exactly known structure."""

from simplexity.generative_processes.builder import (
    GHMM_PROCESSES,
    HMM_PROCESSES,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
)
from simplexity.generative_processes.compositions import SpecialTokenProcess, nonergodic_mixture
from simplexity.generative_processes.generalized_hidden_markov_model import GeneralizedHiddenMarkovModel
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel, stationary_distribution
from simplexity.generative_processes.information import (
    block_entropy,
    entropy_rate,
    excess_entropy,
    myopic_entropy,
    statistical_complexity,
    to_bits,
)
from simplexity.generative_processes.mixed_state_presentation import (
    BeliefLayer,
    MixedStateGraph,
    UnboundedMixedStatesError,
    WordBeliefs,
    belief_layers,
    mixed_state_graph,
    word_beliefs,
)

__all__ = [
    "GHMM_PROCESSES",
    "HMM_PROCESSES",
    "BeliefLayer",
    "GeneralizedHiddenMarkovModel",
    "GenerativeProcess",
    "HiddenMarkovModel",
    "MixedStateGraph",
    "SpecialTokenProcess",
    "UnboundedMixedStatesError",
    "WordBeliefs",
    "belief_layers",
    "block_entropy",
    "build_generalized_hidden_markov_model",
    "build_hidden_markov_model",
    "entropy_rate",
    "excess_entropy",
    "mixed_state_graph",
    "myopic_entropy",
    "nonergodic_mixture",
    "stationary_distribution",
    "statistical_complexity",
    "to_bits",
    "word_beliefs",
]
