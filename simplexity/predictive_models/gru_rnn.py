"""The gated recurrent unit (GRU) layer."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


class GRULayer(eqx.Module):
    """One GRU layer run over a whole sequence.

    Gates follow the usual formulation: `r = sigma(W_ir x + b_ir + W_hr h + b_hr)`,
    `z = sigma(W_iz x + b_iz + W_hz h + b_hz)`, `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`,
    `h' = (1 - z) * n + z * h`. The input projections of all positions are computed in one matrix product
    before the recurrence, so the sequential scan carries only the hidden-to-hidden product.

    Arguments:
        input_size: features per input position.
        hidden_size: features of the hidden state.
        key: PRNG key for the uniform(-1/sqrt(hidden), 1/sqrt(hidden)) initialisation.
    """

    input_weight: Float[Array, "3*hidden input"]
    hidden_weight: Float[Array, "3*hidden hidden"]
    input_bias: Float[Array, " 3*hidden"]
    hidden_bias: Float[Array, " 3*hidden"]
    hidden_size: int = eqx.field(static=True)

    def __init__(self, input_size: int, hidden_size: int, *, key: PRNGKeyArray):
        bound = 1.0 / math.sqrt(hidden_size)
        keys = jax.random.split(key, 4)
        shapes = [(3 * hidden_size, input_size), (3 * hidden_size, hidden_size), (3 * hidden_size,), (3 * hidden_size,)]
        self.input_weight, self.hidden_weight, self.input_bias, self.hidden_bias = (
            jax.random.uniform(k, shape, minval=-bound, maxval=bound) for k, shape in zip(keys, shapes, strict=True)
        )
        self.hidden_size = hidden_size

    def __call__(self, inputs: Float[Array, "seq input"]) -> Float[Array, "seq hidden"]:
        """Returns the hidden state after every position, starting from zeros."""
        input_gates = inputs @ self.input_weight.T + self.input_bias

        def step(hidden: Float[Array, " hidden"], gates_x: Float[Array, " 3*hidden"]):
            gates_h = self.hidden_weight @ hidden + self.hidden_bias
            reset_x, update_x, new_x = jnp.split(gates_x, 3)
            reset_h, update_h, new_h = jnp.split(gates_h, 3)
            reset = jax.nn.sigmoid(reset_x + reset_h)
            update = jax.nn.sigmoid(update_x + update_h)
            candidate = jnp.tanh(new_x + reset * new_h)
            hidden = (1.0 - update) * candidate + update * hidden
            return hidden, hidden

        _, hidden_states = jax.lax.scan(step, jnp.zeros(self.hidden_size, inputs.dtype), input_gates)
        return hidden_states
