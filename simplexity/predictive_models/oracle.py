"""The best possible predictor of a known process: its exact next-token distribution after every prefix."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from simplexity.generative_processes import GenerativeProcess


class BeliefStateOracle(eqx.Module):
    """A `PredictiveModel` whose logits are `log P(x_{t+1} | x_0..x_t)`, computed by exact belief updates.

    Its expected loss at every position is the process's myopic entropy there: a reference for what a trained
    model could reach. It has no parameters to train.

    Arguments:
        process: the process the tokens come from; sequences are assumed to start in its initial state.
    """

    process: GenerativeProcess

    def __call__(self, tokens: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        """Returns the log-probabilities of the next token after every prefix."""
        return jax.vmap(self._sequence_log_probabilities)(tokens)

    def _sequence_log_probabilities(self, tokens: Int[Array, " seq"]) -> Float[Array, "seq vocab"]:
        def step(state: Array, token: Array) -> tuple[Array, Array]:
            state = self.process.transition_states(state, token)
            probabilities = self.process.observation_probability_distribution(state)
            return state, jnp.log(jnp.clip(probabilities, 1e-30, None))

        _, log_probabilities = jax.lax.scan(step, self.process.initial_state, tokens)
        return log_probabilities
