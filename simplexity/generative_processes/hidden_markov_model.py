"""Hidden Markov models: non-negative, row-stochastic transition matrices, sampled along the hidden chain."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxtyping import Array, Float, Int, PRNGKeyArray

from simplexity.generative_processes.generalized_hidden_markov_model import AbstractGeneralizedHiddenMarkovModel
from simplexity.generative_processes.markov_chain import asymptotic_distribution
from simplexity.generative_processes.presentation import Presentation

_ROW_SUM_TOLERANCE = 1e-6


def stationary_distribution(transition_matrices: np.ndarray) -> np.ndarray:
    """Returns a stationary distribution of the hidden-state chain.

    Arguments:
        transition_matrices: `T[x, i, j]`, shape `(vocab, states, states)`.

    Returns:
        `pi` with `pi @ sum_x T[x] = pi` and `sum(pi) = 1`, shape `(states,)`: the long-run distribution of the
        chain started uniformly, so for a chain with several closed classes each gets the share of the states
        that lead into it.
    """
    state_transitions = transition_matrices.sum(axis=0)
    num_states = state_transitions.shape[0]
    return asymptotic_distribution(state_transitions, np.full(num_states, 1.0 / num_states))


def _check_transition_matrices(transition_matrices: np.ndarray) -> None:
    if transition_matrices.ndim != 3 or transition_matrices.shape[1] != transition_matrices.shape[2]:
        raise ValueError(
            f"transition_matrices must have shape (vocab, states, states), got {transition_matrices.shape}"
        )
    if not np.all(np.isfinite(transition_matrices)):
        raise ValueError("transition_matrices must be finite")
    if np.any(transition_matrices < 0):
        raise ValueError("transition_matrices of a hidden Markov model must be non-negative")
    row_sums = transition_matrices.sum(axis=(0, 2))
    if not np.allclose(row_sums, 1.0, atol=_ROW_SUM_TOLERANCE):
        raise ValueError(f"sum over tokens and next states of T[x, i, j] must be 1 for every state i, got {row_sums}")


class HiddenMarkovModel(AbstractGeneralizedHiddenMarkovModel):
    """A hidden Markov model that emits token `x` while moving from state `i` to state `j`.

    `T[x, i, j] = P(X = x, S' = j | S = i)`. States are beliefs: probability distributions over the hidden
    states, shape `(states,)`; the normalising eigenvector is all ones.

    Arguments:
        transition_matrices: `T[x, i, j]`, shape `(vocab, states, states)`, non-negative, and
            `sum_x sum_j T[x, i, j] = 1` for every `i`.
        initial_state: distribution of the first hidden state, shape `(states,)`; the stationary
            distribution when omitted.
        name: names the process in messages.
    """

    transition_matrices: Float[Array, "vocab states states"]
    initial_state: Float[Array, " states"]
    normalizing_eigenvector: Float[Array, " states"]
    presentation: Presentation = eqx.field(static=True, repr=False)
    name: str = eqx.field(static=True)
    # Row i holds the cumulative distribution of the joint outcome (x, j) flattened as x * states + j,
    # so that sampling one step is a single uniform draw and a comparison against one row.
    cumulative_outcomes: Float[Array, "states outcomes"]

    def __init__(
        self, transition_matrices: ArrayLike, initial_state: ArrayLike | None = None, name: str = "hidden Markov model"
    ):
        matrices = np.asarray(transition_matrices, dtype=np.float64)
        _check_transition_matrices(matrices)
        # Rows within the tolerance of 1 are made exactly stochastic, so exact quantities stay normalised.
        matrices = matrices / matrices.sum(axis=(0, 2))[None, :, None]
        if initial_state is None:
            start = stationary_distribution(matrices)
        else:
            start = np.asarray(initial_state, dtype=np.float64)
            if start.shape != (matrices.shape[1],) or np.any(start < 0) or not np.isclose(start.sum(), 1.0):
                raise ValueError(
                    f"initial_state must be a probability vector of length {matrices.shape[1]}, got {start}"
                )
        outcomes = matrices.transpose(1, 0, 2).reshape(matrices.shape[1], -1)
        cumulative = np.cumsum(outcomes, axis=1)
        cumulative /= cumulative[:, -1:]
        self.presentation = Presentation.of(matrices, start, np.ones(matrices.shape[1]))
        self.name = name
        self.transition_matrices = jnp.asarray(matrices, dtype=jnp.float32)
        self.initial_state = jnp.asarray(self.presentation.initial_state, dtype=jnp.float32)
        self.normalizing_eigenvector = jnp.ones(matrices.shape[1], dtype=jnp.float32)
        self.cumulative_outcomes = jnp.asarray(cumulative, dtype=jnp.float32)

    def generate(
        self,
        states: Float[Array, "batch states"],
        keys: PRNGKeyArray,
        sequence_len: int,
        return_all_states: bool = False,
    ) -> tuple[Float[Array, "batch ..."], Int[Array, "batch seq"]]:
        """Samples a batch of token sequences, each starting from its own belief state.

        Without `return_all_states` the hidden-state chain is sampled directly: per token one uniform draw
        compared against the `vocab * states` cumulative probabilities of the current hidden state; no belief
        is tracked. With it, the belief after every token is tracked (see `generate_tracking_states`). Both
        sample the same distribution of sequences.

        Arguments:
            states: belief state each sequence starts from, shape `(batch, states)`.
            keys: one PRNG key per sequence, shape `(batch,)`.
            sequence_len: number of tokens per sequence.
            return_all_states: return the belief after every token, `(batch, seq, states)`.

        Returns:
            The states and the tokens, shape `(batch, seq)`. Without `return_all_states` the state is the
            one-hot hidden state each sequence ends in, `(batch, states)`: an exact state to continue from.
        """
        if return_all_states:
            return self.generate_tracking_states(states, keys, sequence_len)
        return jax.vmap(self._generate_hidden_chain, in_axes=(0, 0, None))(states, keys, sequence_len)

    def _generate_hidden_chain(
        self, state: Float[Array, " states"], key: PRNGKeyArray, sequence_len: int
    ) -> tuple[Float[Array, " states"], Int[Array, " seq"]]:
        start_key, step_key = jax.random.split(key)
        hidden = jax.random.choice(start_key, self.num_states, p=state)
        uniforms = jax.random.uniform(step_key, (sequence_len,))

        def step(hidden: Int[Array, ""], uniform: Float[Array, ""]) -> tuple[Int[Array, ""], Int[Array, ""]]:
            outcome = jnp.sum(self.cumulative_outcomes[hidden] <= uniform)
            outcome = jnp.minimum(outcome, self.cumulative_outcomes.shape[1] - 1)
            token, next_hidden = jnp.divmod(outcome, self.num_states)
            return next_hidden, token

        final_hidden, tokens = jax.lax.scan(step, hidden, uniforms)
        return jax.nn.one_hot(final_hidden, self.num_states), tokens
