"""The long short-term memory (LSTM) layer."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray


class LSTMLayer(eqx.Module):
    """One LSTM layer run over a whole sequence.

    Gates: `i, f, o = sigma(W_x x + b + W_h h)` split, `g = tanh(...)`, `c' = f * c + i * g`, `h' = o * tanh(c')`.
    As in `GRULayer`, the input projections of all positions are one matrix product before the scan.

    Arguments:
        input_size: features per input position.
        hidden_size: features of the hidden and cell states.
        key: PRNG key for the uniform(-1/sqrt(hidden), 1/sqrt(hidden)) initialisation.
    """

    input_weight: Float[Array, "4*hidden input"]
    hidden_weight: Float[Array, "4*hidden hidden"]
    bias: Float[Array, " 4*hidden"]
    hidden_size: int = eqx.field(static=True)

    def __init__(self, input_size: int, hidden_size: int, *, key: PRNGKeyArray):
        bound = 1.0 / math.sqrt(hidden_size)
        keys = jax.random.split(key, 3)
        shapes = [(4 * hidden_size, input_size), (4 * hidden_size, hidden_size), (4 * hidden_size,)]
        self.input_weight, self.hidden_weight, self.bias = (
            jax.random.uniform(k, shape, minval=-bound, maxval=bound) for k, shape in zip(keys, shapes, strict=True)
        )
        self.hidden_size = hidden_size

    def __call__(self, inputs: Float[Array, "seq *batch input"]) -> Float[Array, "seq *batch hidden"]:
        """Returns the hidden state after every position, starting from zero hidden and cell states.

        Position is the leading axis; any axes between it and the features are batch axes (as in `GRULayer`).
        """
        return self._recurrence(inputs, keep_cells=False)[0]

    def with_cells(
        self, inputs: Float[Array, "seq *batch input"]
    ) -> tuple[Float[Array, "seq *batch hidden"], Float[Array, "seq *batch hidden"]]:
        """Returns the hidden state and the cell state after every position."""
        hidden_states, cell_states = self._recurrence(inputs, keep_cells=True)
        assert cell_states is not None
        return hidden_states, cell_states

    def _recurrence(self, inputs: Array, keep_cells: bool) -> tuple[Array, Array | None]:
        # One array per gate, so that the scan's body reads whole arrays rather than slices of a stacked one.
        input_gates = tuple(
            inputs @ weight.T + bias
            for weight, bias in zip(jnp.split(self.input_weight, 4), jnp.split(self.bias, 4), strict=True)
        )
        hidden_weights = jnp.split(self.hidden_weight, 4)

        def step(carry: tuple[Array, Array], gates_x: tuple[Array, ...]):
            hidden, cell = carry
            input_gate, forget_gate, output_gate, candidate = (
                gate_x + hidden @ weight.T for gate_x, weight in zip(gates_x, hidden_weights, strict=True)
            )
            cell = jax.nn.sigmoid(forget_gate) * cell + jax.nn.sigmoid(input_gate) * jnp.tanh(candidate)
            hidden = jax.nn.sigmoid(output_gate) * jnp.tanh(cell)
            return (hidden, cell), ((hidden, cell) if keep_cells else (hidden, None))

        zeros = jnp.zeros((*inputs.shape[1:-1], self.hidden_size), inputs.dtype)
        _, (hidden_states, cell_states) = jax.lax.scan(step, (zeros, zeros), input_gates)
        return hidden_states, cell_states
