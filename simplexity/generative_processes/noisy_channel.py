"""A process seen through a symmetric noisy channel: each token replaced, with probability epsilon, by a uniform one."""

import equinox as eqx
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from simplexity.generative_processes.factored import SideBySideFactors
from simplexity.generative_processes.generalized_hidden_markov_model import (
    AbstractGeneralizedHiddenMarkovModel,
    GeneralizedHiddenMarkovModel,
)
from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.hidden_markov_model import HiddenMarkovModel
from simplexity.generative_processes.presentation import Presentation


def noisy_presentation(presentation: Presentation, epsilon: float) -> Presentation:
    """Returns the presentation of `presentation`'s process with each token replaced by a uniform one w.p. epsilon.

    The hidden dynamics move with the token the process emitted; the channel, independently of everything,
    passes it or draws a replacement from all `V` tokens: `T'[x] = (1 - epsilon) T[x] + (epsilon / V) sum_y T[y]`.
    """
    matrices = presentation.transition_matrices
    noisy = (1.0 - epsilon) * matrices + epsilon / presentation.vocab_size * matrices.sum(axis=0)[None]
    return Presentation.of(noisy, presentation.initial_state, presentation.normalizing_eigenvector)


class NoisyChannel(GenerativeProcess):
    """The tokens of `process`, each replaced with probability `epsilon` by one drawn uniformly from its vocabulary.

    Two beliefs, not to be confused:
    - `bayes_beliefs`: the exact belief of the noisy process over `process`'s presentation states (for a
      `FactoredProcess`, the joint states), the Bayes-optimal predictor's. With noise it no longer factors.
    - `noise_blind_factor_beliefs`: each factor's belief updated from its own sub-token of the noisy token as if
      there were no noise (the factor-wise targets of a factored analysis); one belief for a process of one factor.

    The noisy process is a hidden Markov model (or a generalized one) on `process`'s presentation states
    (`noisy_presentation`), and it samples and predicts from that presentation: the device state is the Bayes
    belief, of dimension `process.presentation.num_states` (the product of the factors' for a factored process).

    Arguments:
        process: the process whose tokens pass through the channel.
        epsilon: the probability that a token is replaced, in [0, 1].
        name: names the process in messages; by default `NAME+noise(EPSILON)`.
    """

    process: GenerativeProcess
    channel: AbstractGeneralizedHiddenMarkovModel
    initial_state: Float[Array, " states"]
    epsilon: float = eqx.field(static=True)
    presentation: Presentation = eqx.field(static=True, repr=False)
    name: str = eqx.field(static=True)

    def __init__(self, process: GenerativeProcess, epsilon: float, name: str | None = None):
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon={epsilon} must be a probability in [0, 1]")
        self.process = process
        self.epsilon = float(epsilon)
        self.name = name if name is not None else f"{process.name}+noise({epsilon:g})"
        presentation = noisy_presentation(process.presentation, self.epsilon)
        if presentation.is_hidden_markov_model:
            self.channel = HiddenMarkovModel(
                presentation.transition_matrices, initial_state=presentation.initial_state, name=self.name
            )
        else:
            self.channel = GeneralizedHiddenMarkovModel(
                presentation.transition_matrices,
                initial_state=presentation.initial_state,
                normalizing_eigenvector=presentation.normalizing_eigenvector,
                name=self.name,
            )
        self.presentation = self.channel.presentation
        self.initial_state = self.channel.initial_state

    @property
    def num_states(self) -> int:
        """Dimension of the device state: the Bayes belief over the presentation states."""
        return self.channel.num_states

    def observation_probability_distribution(self, state: Float[Array, " states"]) -> Float[Array, " vocab"]:
        """Returns the noisy process's next-token distribution in the Bayes belief `state`."""
        return self.channel.observation_probability_distribution(state)

    def transition_states(self, state: Float[Array, " states"], obs: Int[Array, ""]) -> Float[Array, " states"]:
        """Returns the Bayes belief after the noisy token `obs`."""
        return self.channel.transition_states(state, obs)

    def generate(
        self,
        states: Float[Array, "batch states"],
        keys: PRNGKeyArray,
        sequence_len: int,
        return_all_states: bool = False,
    ) -> tuple[Float[Array, "batch ..."], Int[Array, "batch seq"]]:
        """Samples noisy sequences from Bayes beliefs (see `HiddenMarkovModel.generate`)."""
        return self.channel.generate(states, keys, sequence_len, return_all_states)

    def log_probability(self, observations: ArrayLike) -> np.ndarray:
        """Returns `log P(observations)` of the noisy process in float64."""
        return self.channel.log_probability(observations)

    def next_token_distributions(self, tokens: ArrayLike) -> np.ndarray:
        """Returns the noisy process's exact next-token distributions in float64, shape `(..., seq, vocab)`."""
        return self.channel.next_token_distributions(tokens)

    def bayes_beliefs(self, tokens: ArrayLike) -> np.ndarray:
        """Returns the exact belief of the noisy process after every prefix, shape `(..., seq + 1, states)`."""
        return self.presentation.filter(np.asarray(tokens))[0]

    def noise_blind_factor_beliefs(self, tokens: ArrayLike) -> list[np.ndarray]:
        """Returns each factor's belief after every prefix, updated from the noisy tokens as if noise-free.

        For a `FactoredProcess` or a `ChainedProcess` one array per factor, shape `(..., seq + 1, d_n)`
        (`factor_beliefs`); otherwise one array, the process's own filter on the noisy tokens. A token the factor
        cannot emit leaves its belief unchanged.
        """
        if isinstance(self.process, SideBySideFactors):
            return self.process.factor_beliefs(tokens)
        return [self.process.presentation.filter(np.asarray(tokens))[0]]
