"""Stochastic processes with exactly known structure."""

from simplexity.generative_processes.bidirectional import StoredInformation, stored_information
from simplexity.generative_processes.builder import (
    GHMM_PROCESSES,
    HMM_PROCESSES,
    build_generalized_hidden_markov_model,
    build_hidden_markov_model,
)
from simplexity.generative_processes.causal_states import CausalStates, InfiniteOrderError, causal_states
from simplexity.generative_processes.chained import ChainedProcess, chain_presentation
from simplexity.generative_processes.compositions import (
    SpecialTokenProcess,
    content_process,
    nonergodic_mixture,
)
from simplexity.generative_processes.factored import (
    FactoredProcess,
    join_factor_tokens,
    kronecker_presentation,
    split_joint_tokens,
)
from simplexity.generative_processes.generalized_hidden_markov_model import (
    AbstractGeneralizedHiddenMarkovModel,
    GeneralizedHiddenMarkovModel,
)
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel, stationary_distribution
from simplexity.generative_processes.information import (
    Estimate,
    block_entropy,
    entropy_rate,
    estimate_entropy_rate,
    estimate_excess_entropy,
    estimate_statistical_complexity,
    excess_entropy,
    myopic_entropy,
    statistical_complexity,
    to_bits,
    transient_information,
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
from simplexity.generative_processes.noisy_channel import NoisyChannel, noisy_presentation
from simplexity.generative_processes.presentation import Presentation
from simplexity.generative_processes.synchronization import (
    cryptic_order,
    crypticity,
    markov_order,
    state_uncertainty,
    synchronization_information,
)
from simplexity.generative_processes.transforms import (
    inflate_vocabulary,
    markov_approximation,
    random_epsilon_machine,
    time_reverse,
)

__all__ = [
    "GHMM_PROCESSES",
    "HMM_PROCESSES",
    "AbstractGeneralizedHiddenMarkovModel",
    "BeliefLayer",
    "CausalStates",
    "ChainedProcess",
    "Estimate",
    "FactoredProcess",
    "GeneralizedHiddenMarkovModel",
    "GenerativeProcess",
    "HiddenMarkovModel",
    "InfiniteOrderError",
    "MixedStateGraph",
    "NoisyChannel",
    "Presentation",
    "SpecialTokenProcess",
    "StoredInformation",
    "UnboundedMixedStatesError",
    "WordBeliefs",
    "belief_layers",
    "block_entropy",
    "build_generalized_hidden_markov_model",
    "build_hidden_markov_model",
    "causal_states",
    "chain_presentation",
    "content_process",
    "cryptic_order",
    "crypticity",
    "entropy_rate",
    "estimate_entropy_rate",
    "estimate_excess_entropy",
    "estimate_statistical_complexity",
    "excess_entropy",
    "inflate_vocabulary",
    "join_factor_tokens",
    "kronecker_presentation",
    "markov_approximation",
    "markov_order",
    "mixed_state_graph",
    "myopic_entropy",
    "noisy_presentation",
    "nonergodic_mixture",
    "random_epsilon_machine",
    "split_joint_tokens",
    "state_uncertainty",
    "stationary_distribution",
    "statistical_complexity",
    "stored_information",
    "synchronization_information",
    "time_reverse",
    "to_bits",
    "transient_information",
    "word_beliefs",
]
