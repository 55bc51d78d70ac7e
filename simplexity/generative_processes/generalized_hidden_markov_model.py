"""Generalized hidden Markov models: linear presentations whose matrices may have negative entries."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int, PRNGKeyArray

from simplexity.generative_processes.generative_process import GenerativeProcess
from simplexity.generative_processes.presentation import Presentation


def principal_eigenvectors(state_transitions: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Returns the spectral radius of `M` and its left and right eigenvectors, as real vectors.

    Arguments:
        state_transitions: `M = sum_x T[x]`, shape `(states, states)`.
    """
    right_values, right_vectors = np.linalg.eig(state_transitions)
    left_values, left_vectors = np.linalg.eig(state_transitions.T)
    right_index = int(np.argmax(np.real(right_values)))
    left_index = int(np.argmax(np.real(left_values)))
    radius = float(np.real(right_values[right_index]))
    return radius, np.real(left_vectors[:, left_index]), np.real(right_vectors[:, right_index])


class AbstractGeneralizedHiddenMarkovModel(GenerativeProcess):
    """What hidden Markov models and generalized ones share: belief updates and belief-tracking sampling (abstract).

    The device arrays (`transition_matrices`, `initial_state`, `normalizing_eigenvector`) are float32 copies
    for sampling; exact quantities use `presentation`, which keeps the float64 arrays they were made from.
    """

    transition_matrices: eqx.AbstractVar[Float[Array, "vocab states states"]]
    normalizing_eigenvector: eqx.AbstractVar[Float[Array, " states"]]

    @property
    def num_states(self) -> int:
        """Dimension of the state vector."""
        return self.presentation.num_states

    def observation_probability_distribution(self, state: Float[Array, " states"]) -> Float[Array, " vocab"]:
        """Returns `P(X = x | state)` for every token `x`."""
        unnormalized = jnp.einsum("i,xij,j->x", state, self.transition_matrices, self.normalizing_eigenvector)
        return unnormalized / (state @ self.normalizing_eigenvector)

    def transition_states(self, state: Float[Array, " states"], obs: Int[Array, ""]) -> Float[Array, " states"]:
        """Returns the state after observing `obs` from `state`, normalised so that `state @ r = 1`."""
        unnormalized = state @ self.transition_matrices[obs]
        return unnormalized / (unnormalized @ self.normalizing_eigenvector)

    def generate_tracking_states(
        self, states: Float[Array, "batch states"], keys: PRNGKeyArray, sequence_len: int
    ) -> tuple[Float[Array, "batch seq states"], Int[Array, "batch seq"]]:
        """Samples a batch of token sequences by tracking the exact state (belief) after every token.

        Arguments:
            states: state each sequence starts from, shape `(batch, states)`.
            keys: one PRNG key per sequence, shape `(batch,)`.
            sequence_len: number of tokens per sequence.

        Returns:
            The state after every token, `(batch, seq, states)` (`all_states[:, t]` conditions on
            `tokens[:, : t + 1]`), and the tokens, `(batch, seq)`.
        """
        return jax.vmap(self._generate_tracking_states, in_axes=(0, 0, None))(states, keys, sequence_len)

    def _generate_tracking_states(
        self, state: Float[Array, " states"], key: PRNGKeyArray, sequence_len: int
    ) -> tuple[Float[Array, "seq states"], Int[Array, " seq"]]:
        uniforms = jax.random.uniform(key, (sequence_len,))

        def step(state: Float[Array, " states"], uniform: Float[Array, ""]):
            # Rounding can leave tiny negative probabilities in a generalized HMM; they are never sampled.
            probabilities = jnp.clip(self.observation_probability_distribution(state), 0.0, None)
            cumulative = jnp.cumsum(probabilities)
            token = jnp.minimum(jnp.sum(cumulative <= uniform * cumulative[-1]), self.vocab_size - 1)
            next_state = self.transition_states(state, token)
            return next_state, (next_state, token)

        _, (states, tokens) = jax.lax.scan(step, state, uniforms)
        return states, tokens

    def log_probability(self, observations: ArrayLike) -> np.ndarray:
        """Returns `log P(observations)` from the initial state in float64, shape `observations.shape[:-1]`.

        Computed on the host from the float64 presentation: the belief is renormalised after every token and the
        log-probabilities of the tokens are summed in float64, so nothing underflows and a long sample keeps
        its accuracy. A word of probability 0 gives `-inf`.

        Arguments:
            observations: integer tokens, shape `(..., seq)`.
        """
        return self.presentation.log_probability(np.asarray(observations))

    def next_token_distributions(self, tokens: ArrayLike) -> np.ndarray:
        """Returns the exact `P(token t + 1 | tokens[..., : t + 1])` in float64, shape `(..., seq, vocab)`."""
        return self.presentation.next_token_distributions(np.asarray(tokens))


class GeneralizedHiddenMarkovModel(AbstractGeneralizedHiddenMarkovModel):
    """A generalized hidden Markov model (an observable operator model) with matrices `T[x, i, j]`.

    The probability of a word `w` from state `s` is `s @ T[w_1] @ ... @ T[w_n] @ r`, where `r` is the right
    eigenvector of `M = sum_x T[x]` with eigenvalue 1 (`normalizing_eigenvector`) and `s @ r = 1`. Entries of
    `T` and of states may be negative; word probabilities may not. The matrices are rescaled so that the
    principal eigenvalue of `M` is 1.

    Arguments:
        transition_matrices: `T`, shape `(vocab, states, states)`.
        initial_state: the state sequences start from, shape `(states,)`; the stationary state (the left
            principal eigenvector of `M`) when omitted. It is rescaled so that `initial_state @ r = 1`.
        normalizing_eigenvector: `r`, when the principal eigenvalue of `M` is degenerate (a nonergodic
            process) and the principal eigenvector found numerically would not be the right one.
        name: names the process in messages.
    """

    transition_matrices: Float[Array, "vocab states states"]
    initial_state: Float[Array, " states"]
    normalizing_eigenvector: Float[Array, " states"]
    presentation: Presentation = eqx.field(static=True, repr=False)
    name: str = eqx.field(static=True)

    def __init__(
        self,
        transition_matrices: ArrayLike,
        initial_state: ArrayLike | None = None,
        normalizing_eigenvector: ArrayLike | None = None,
        name: str = "generalized hidden Markov model",
    ):
        matrices = np.asarray(transition_matrices, dtype=np.float64)
        if matrices.ndim != 3 or matrices.shape[1] != matrices.shape[2]:
            raise ValueError(f"transition_matrices must have shape (vocab, states, states), got {matrices.shape}")
        if not np.all(np.isfinite(matrices)):
            raise ValueError("transition_matrices must be finite")
        radius, left, right = principal_eigenvectors(matrices.sum(axis=0))
        if radius <= 0:
            raise ValueError("sum_x T[x] must have a positive principal eigenvalue")
        matrices = matrices / radius
        if normalizing_eigenvector is not None:
            right = np.asarray(normalizing_eigenvector, dtype=np.float64)
            if not np.allclose(matrices.sum(axis=0) @ right, right, atol=1e-6):
                raise ValueError("normalizing_eigenvector must satisfy (sum_x T[x]) @ r = r")
        elif abs(right.sum()) > 1e-12:
            right = right / right.sum() * len(right)
        start = left if initial_state is None else np.asarray(initial_state, dtype=np.float64)
        if start.shape != (matrices.shape[1],):
            raise ValueError(f"initial_state must have shape ({matrices.shape[1]},), got {start.shape}")
        if abs(start @ right) < 1e-12:
            raise ValueError("initial_state @ normalizing_eigenvector must not be 0")
        self.presentation = Presentation.of(matrices, start, right)
        self.name = name
        self.transition_matrices = jnp.asarray(matrices, dtype=jnp.float32)
        self.normalizing_eigenvector = jnp.asarray(right, dtype=jnp.float32)
        self.initial_state = jnp.asarray(self.presentation.initial_state, dtype=jnp.float32)

    def generate(
        self,
        states: Float[Array, "batch states"],
        keys: PRNGKeyArray,
        sequence_len: int,
        return_all_states: bool = False,
    ) -> tuple[Float[Array, "batch ..."], Int[Array, "batch seq"]]:
        """Samples a batch of token sequences by tracking the exact state (belief) after every token.

        Arguments:
            states: state each sequence starts from, shape `(batch, states)`.
            keys: one PRNG key per sequence, shape `(batch,)`.
            sequence_len: number of tokens per sequence.
            return_all_states: return the state after every token, `(batch, seq, states)`, instead of only
                the final one, `(batch, states)`. `all_states[:, t]` conditions on `tokens[:, : t + 1]`.

        Returns:
            The states and the tokens, shape `(batch, seq)`.
        """
        all_states, tokens = self.generate_tracking_states(states, keys, sequence_len)
        return (all_states if return_all_states else all_states[:, -1]), tokens
