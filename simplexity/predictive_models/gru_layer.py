"""The gated recurrent unit (GRU) layer."""

import math

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from simplexity.predictive_models.gru_recurrence import gru_recurrence


class GRULayer(eqx.Module):
    """One GRU layer run over a whole sequence.

    Gates follow the usual formulation: `r = sigma(W_ir x + b_ir + W_hr h + b_hr)`,
    `z = sigma(W_iz x + b_iz + W_hz h + b_hz)`, `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`,
    `h' = (1 - z) * n + z * h` (PyTorch's convention). The recurrence is `gru_recurrence`: only the
    hidden-to-hidden products run position by position, forward and backward; input projections, gates and
    weight gradients are computed for all positions at once.

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

    def __call__(self, inputs: Float[Array, "seq *batch input"]) -> Float[Array, "seq *batch hidden"]:
        """Returns the hidden state after every position, starting from zeros.

        Position is the leading axis; any axes between it and the features are batch axes, so one sequence is
        `(seq, input)` and a batch of them, run as one recurrence, is `(seq, batch, input)`.
        """
        batch_shape = inputs.shape[1:-1]
        flat = inputs.reshape(inputs.shape[0], -1, inputs.shape[-1])
        hidden_states = gru_recurrence(flat, self.input_weight, self.input_bias, self.hidden_weight, self.hidden_bias)
        return hidden_states.reshape(inputs.shape[0], *batch_shape, self.hidden_size)
