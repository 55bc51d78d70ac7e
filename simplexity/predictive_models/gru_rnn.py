"""A stacked GRU recurrent network over token embeddings."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray


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


class GRURNN(eqx.Module):
    """Token embedding, stacked GRU layers and a linear read-out to next-token logits.

    Arguments:
        vocab_size: number of distinct tokens.
        embedding_size: features of the token embedding.
        num_layers: number of stacked GRU layers.
        hidden_size: hidden features of every GRU layer.
        key: PRNG key for all parameters.
    """

    embedding: Float[Array, "vocab embedding"]
    layers: tuple[GRULayer, ...]
    head: eqx.nn.Linear

    def __init__(self, vocab_size: int, embedding_size: int, num_layers: int, hidden_size: int, *, key: PRNGKeyArray):
        embedding_key, head_key, *layer_keys = jax.random.split(key, num_layers + 2)
        self.embedding = jax.random.normal(embedding_key, (vocab_size, embedding_size))
        input_sizes = [embedding_size] + [hidden_size] * (num_layers - 1)
        self.layers = tuple(
            GRULayer(size, hidden_size, key=layer_key) for size, layer_key in zip(input_sizes, layer_keys, strict=True)
        )
        self.head = eqx.nn.Linear(hidden_size, vocab_size, key=head_key)

    def __call__(self, tokens: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        """Returns next-token logits for a batch of sequences."""
        return jax.vmap(self.sequence_logits)(tokens)

    def sequence_logits(self, tokens: Int[Array, " seq"]) -> Float[Array, "seq vocab"]:
        """Returns next-token logits for one sequence."""
        features = self.embedding[tokens]
        for layer in self.layers:
            features = layer(features)
        return jax.vmap(self.head)(features)


def build_gru_rnn(vocab_size: int, embedding_size: int, num_layers: int, hidden_size: int, seed: int) -> GRURNN:
    """Returns a GRU-RNN initialised from `seed`.

    Example:
        >>> model = build_gru_rnn(vocab_size=3, embedding_size=8, num_layers=2, hidden_size=16, seed=0)
        >>> model(jnp.zeros((4, 10), dtype=jnp.int32)).shape
        (4, 10, 3)
    """
    for name, value in [
        ("vocab_size", vocab_size),
        ("embedding_size", embedding_size),
        ("num_layers", num_layers),
        ("hidden_size", hidden_size),
    ]:
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name}={value!r} must be a positive integer")
    return GRURNN(vocab_size, embedding_size, num_layers, hidden_size, key=jax.random.key(seed))
