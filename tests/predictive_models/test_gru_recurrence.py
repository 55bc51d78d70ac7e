"""The GRU recurrence and its hand-written backward pass against autodiff of a plain implementation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.predictive_models import GRULayer, LSTMLayer
from simplexity.predictive_models.gru_recurrence import _weight_gradient, gru_recurrence

SEQ, BATCH, INPUT, HIDDEN = 5, 3, 4, 6


def plain_gru(inputs, input_weight, input_bias, hidden_weight, hidden_bias):
    """The textbook GRU, position by position in Python, for one `(seq, batch, input)` array."""
    hidden = jnp.zeros((inputs.shape[1], hidden_weight.shape[1]))
    outputs = []
    for x in inputs:
        reset_x, update_x, new_x = jnp.split(x @ input_weight.T + input_bias, 3, axis=-1)
        reset_h, update_h, new_h = jnp.split(hidden @ hidden_weight.T + hidden_bias, 3, axis=-1)
        reset = jax.nn.sigmoid(reset_x + reset_h)
        update = jax.nn.sigmoid(update_x + update_h)
        candidate = jnp.tanh(new_x + reset * new_h)
        hidden = (1 - update) * candidate + update * hidden
        outputs.append(hidden)
    return jnp.stack(outputs)


def random_arguments(seq_len: int, seed: int = 0, batch: int = BATCH):
    keys = jax.random.split(jax.random.key(seed), 5)
    shapes = [(seq_len, batch, INPUT), (3 * HIDDEN, INPUT), (3 * HIDDEN,), (3 * HIDDEN, HIDDEN), (3 * HIDDEN,)]
    # Non-zero biases and weights large enough to saturate some gates exercise every term of the backward pass.
    return tuple(jax.random.normal(key, shape) for key, shape in zip(keys, shapes, strict=True))


def weighted_sum_of_sines(recurrence):
    """A scalar loss whose gradient with respect to each hidden state differs by position and unit."""

    def loss(*arguments):
        hidden_states = recurrence(*arguments)
        weights = jax.random.normal(jax.random.key(9), hidden_states.shape)
        return jnp.sum(jnp.sin(hidden_states) * weights)

    return loss


@pytest.mark.parametrize("seq_len", [1, SEQ])
def test_hidden_states_match_the_plain_gru(seq_len):
    arguments = random_arguments(seq_len)
    np.testing.assert_allclose(gru_recurrence(*arguments), plain_gru(*arguments), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("seq_len", "batch"),
    # 16 x 128 = 2048 positions of all sequences: on CPU the weight gradients are split in two (`_weight_gradient`).
    [(1, BATCH), (SEQ, BATCH), (16, 128)],
)
def test_gradients_match_autodiff_of_the_plain_gru(seq_len, batch):
    arguments = random_arguments(seq_len, batch=batch)
    every_argument = tuple(range(len(arguments)))
    ours = jax.jit(jax.grad(weighted_sum_of_sines(gru_recurrence), argnums=every_argument))(*arguments)
    reference = jax.grad(weighted_sum_of_sines(plain_gru), argnums=every_argument)(*arguments)
    for name, got, expected in zip(["inputs", "W_i", "b_i", "W_h", "b_h"], ours, reference, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("rows", [6, 2048, 2050, 2051])
def test_weight_gradient_equals_the_full_product_whether_split_or_not(rows):
    inputs = jax.random.normal(jax.random.key(5), (rows, INPUT))
    gates_grad = jax.random.normal(jax.random.key(6), (rows, 3 * HIDDEN))
    expected = np.asarray(gates_grad, np.float64).T @ np.asarray(inputs, np.float64)
    np.testing.assert_allclose(_weight_gradient(inputs, gates_grad), expected, rtol=1e-4, atol=1e-4)


def test_layer_accepts_one_sequence_or_any_batch_shape():
    layer = GRULayer(INPUT, HIDDEN, key=jax.random.key(1))
    inputs = jax.random.normal(jax.random.key(2), (SEQ, 2, BATCH, INPUT))
    batched = layer(inputs)
    assert batched.shape == (SEQ, 2, BATCH, HIDDEN)
    one_by_one = jax.vmap(jax.vmap(layer, in_axes=1, out_axes=1), in_axes=1, out_axes=1)(inputs)
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer(inputs[:, 0, 0]), batched[:, 0, 0], rtol=1e-5, atol=1e-6)


def test_vmapped_layer_gradients_equal_the_batched_layer_gradients():
    """The GRUFormer maps the layer over sequences; JAX then batches the custom backward pass."""
    layer = GRULayer(INPUT, HIDDEN, key=jax.random.key(1))
    inputs = jax.random.normal(jax.random.key(2), (SEQ, BATCH, INPUT))

    def batched_loss(layer):
        return jnp.sum(jnp.sin(layer(inputs)))

    def vmapped_loss(layer):
        return jnp.sum(jnp.sin(jax.vmap(layer, in_axes=1, out_axes=1)(inputs)))

    batched, vmapped = jax.grad(batched_loss)(layer), jax.grad(vmapped_loss)(layer)
    for got, expected in zip(jax.tree.leaves(vmapped), jax.tree.leaves(batched), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def plain_lstm(layer: LSTMLayer, inputs):
    hidden = cell = jnp.zeros(layer.hidden_size)
    outputs = []
    for x in inputs:
        gates = layer.input_weight @ x + layer.bias + layer.hidden_weight @ hidden
        input_gate, forget_gate, output_gate, candidate = jnp.split(gates, 4)
        cell = jax.nn.sigmoid(forget_gate) * cell + jax.nn.sigmoid(input_gate) * jnp.tanh(candidate)
        hidden = jax.nn.sigmoid(output_gate) * jnp.tanh(cell)
        outputs.append(hidden)
    return jnp.stack(outputs)


def test_lstm_layer_matches_the_plain_lstm_for_a_batch_of_sequences():
    layer = LSTMLayer(INPUT, HIDDEN, key=jax.random.key(3))
    inputs = jax.random.normal(jax.random.key(4), (SEQ, BATCH, INPUT))
    expected = jnp.stack([plain_lstm(layer, inputs[:, index]) for index in range(BATCH)], axis=1)
    np.testing.assert_allclose(layer(inputs), expected, rtol=1e-5, atol=1e-6)
