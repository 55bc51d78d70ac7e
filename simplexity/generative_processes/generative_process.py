"""The contract every generative process satisfies: sampling on the device, and a float64 presentation."""

import abc

import equinox as eqx
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Int, PRNGKeyArray

from simplexity.generative_processes.presentation import Presentation


class GenerativeProcess(eqx.Module):
    """A source of token sequences whose next-token distribution is a function of a state vector (abstract).

    Two faces. On the device, in the training dtype: `initial_state`, `observation_probability_distribution`,
    `transition_states` and `generate`, for sampling and for models that track beliefs. On the host, in
    float64: `presentation`, the linear presentation every exact quantity (word probabilities, beliefs,
    entropies, the validation optimum) is computed from, and `log_probability`.

    For an HMM the state is a belief (a distribution over hidden states); for a generalized HMM it is a vector in
    the process's state space, normalised so that `state @ normalizing_eigenvector == 1`. `initial_state` is
    the device state sequences start from (the stationary state unless given); `name` names the process in
    messages. A composition whose presentation has the joint size may provide it as a property that builds it on
    first use (`DeferredPresentation`), so that sampling and training never build it.
    """

    presentation: eqx.AbstractVar[Presentation]
    initial_state: eqx.AbstractVar[Float[Array, " states"]]
    name: eqx.AbstractVar[str]

    @property
    def vocab_size(self) -> int:
        """Number of distinct tokens."""
        return self.presentation.vocab_size

    @property
    @abc.abstractmethod
    def num_states(self) -> int:
        """Dimension of the (device) state vector."""

    @abc.abstractmethod
    def observation_probability_distribution(self, state: Float[Array, " states"]) -> Float[Array, " vocab"]:
        """Returns the next-token distribution in `state`."""

    @abc.abstractmethod
    def transition_states(self, state: Float[Array, " states"], obs: Int[Array, ""]) -> Float[Array, " states"]:
        """Returns the state after emitting `obs` from `state` (the belief update)."""

    @abc.abstractmethod
    def generate(
        self,
        states: Float[Array, "batch states"],
        keys: PRNGKeyArray,
        sequence_len: int,
        return_all_states: bool = False,
    ) -> tuple[Float[Array, "batch ..."], Int[Array, "batch seq"]]:
        """Samples token sequences; returns the final (or every) state and the tokens."""

    @abc.abstractmethod
    def log_probability(self, observations: ArrayLike) -> np.ndarray:
        """Returns `log P(observations)` in float64 nats, shape `observations.shape[:-1]` (host, not traceable)."""

    @abc.abstractmethod
    def next_token_distributions(self, tokens: ArrayLike) -> np.ndarray:
        """Returns the exact `P(token t + 1 | tokens[..., : t + 1])` in float64, shape `(..., seq, vocab)`."""

    def probability(self, observations: ArrayLike) -> np.ndarray:
        """Returns `P(observations)` in float64 (underflows to 0 for long words; use `log_probability`)."""
        return np.exp(self.log_probability(observations))
