"""The contract every generative process satisfies."""

from typing import Protocol, runtime_checkable

from jaxtyping import Array, Float, Int, PRNGKeyArray


@runtime_checkable
class GenerativeProcess(Protocol):
    """A stationary source of token sequences whose next-token distribution is a function of a state vector.

    For an HMM the state is a belief (a distribution over hidden states); for a generalized HMM it is a
    vector in the process's state space, normalised so that `state @ normalizing_eigenvector == 1`.
    """

    @property
    def vocab_size(self) -> int:
        """Number of distinct tokens."""
        ...

    @property
    def num_states(self) -> int:
        """Dimension of the state vector."""
        ...

    @property
    def initial_state(self) -> Float[Array, " states"]:
        """The state sequences start from: the stationary state unless given."""
        ...

    def observation_probability_distribution(self, state: Float[Array, " states"]) -> Float[Array, " vocab"]:
        """Returns the next-token distribution in `state`."""
        ...

    def transition_states(self, state: Float[Array, " states"], obs: Int[Array, ""]) -> Float[Array, " states"]:
        """Returns the state after emitting `obs` from `state` (the belief update)."""
        ...

    def generate(
        self,
        states: Float[Array, "batch states"],
        keys: PRNGKeyArray,
        sequence_len: int,
        return_all_states: bool = False,
    ) -> tuple[Float[Array, "batch ..."], Int[Array, "batch seq"]]:
        """Samples token sequences; returns the final (or every) state and the tokens."""
        ...

    def log_probability(self, observations: Int[Array, " seq"]) -> Float[Array, ""]:
        """Returns the natural log of the probability of a token sequence from the initial state."""
        ...
