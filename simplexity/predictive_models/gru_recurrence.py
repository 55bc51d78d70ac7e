"""The GRU recurrence over a batch of sequences, with a hand-written backward pass.

Autodiff of a `lax.scan` GRU does three small matrix products per position in sequence (the forward hidden product,
and backward both the hidden-state gradient and a slice of the weight gradient) and moves every gate through the loop.
Here only what must be sequential is: the forward loop computes the hidden states (and, when a gradient will be
taken, the gate factors the backward pass needs), and the backward loop carries the hidden-state gradient through one
`(batch, 3H) @ (3H, H)` product per position. The input projections and all weight gradients are computed for all
positions at once, as large matrix products. On a 2-core CPU a 4-layer GRU training step at batch 128, sequence 64
takes 29.5 ms, against 40.1 ms with autodiff of the same recurrence as a batched `lax.scan` (`scripts/bench_train.py`,
`gru_backward`; docs/performance.md); the results equal autodiff of the plain recurrence to float rounding.
"""

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def gru_recurrence(
    inputs: Float[Array, "seq batch input"],
    input_weight: Float[Array, "3*hidden input"],
    input_bias: Float[Array, " 3*hidden"],
    hidden_weight: Float[Array, "3*hidden hidden"],
    hidden_bias: Float[Array, " 3*hidden"],
) -> Float[Array, "seq batch hidden"]:
    """Returns the hidden state after every position of every sequence, starting from zeros.

    Gates, in PyTorch's order and convention: `r = sigma(W_ir x + b_ir + W_hr h + b_hr)`,
    `z = sigma(W_iz x + b_iz + W_hz h + b_hz)`, `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`,
    `h' = (1 - z) * n + z * h`; the weights stack the r, z and n rows.

    Differentiable in reverse mode only (it is a `jax.custom_vjp`); forward-mode (`jax.jvp`) is not defined.
    """
    return _recurrence(inputs, input_weight, input_bias, hidden_weight, hidden_bias)


@jax.custom_vjp
def _recurrence(inputs: Array, input_weight: Array, input_bias: Array, hidden_weight: Array, hidden_bias: Array):
    return _forward(inputs, input_weight, input_bias, hidden_weight, hidden_bias)[0]


def _input_gates(inputs: Array, input_weight: Array, input_bias: Array, hidden_bias: Array) -> tuple[Array, ...]:
    """Returns the input side of the reset, update and candidate gates for all positions, each `(seq, batch, H)`.

    The hidden biases of the reset and update gates are folded in here; the candidate's is applied inside `r * (.)`.
    """
    reset_bias, update_bias, new_bias = jnp.split(input_bias, 3)
    hidden_reset_bias, hidden_update_bias, _ = jnp.split(hidden_bias, 3)
    biases = (reset_bias + hidden_reset_bias, update_bias + hidden_update_bias, new_bias)
    # One product for the three gates (three narrow ones are slower), then one array per gate.
    products = jnp.split(inputs @ input_weight.T, 3, axis=-1)
    return tuple(product + bias for product, bias in zip(products, biases, strict=True))


def _gates(
    gates_x: tuple[Array, ...], hidden_products: tuple[Array, ...], new_hidden_bias: Array
) -> tuple[Array, Array, Array, Array]:
    """Returns the reset gate, update gate, candidate and `W_hn h + b_hn`, from both sides' gate products."""
    reset_x, update_x, new_x = gates_x
    reset_h, update_h, new_h = hidden_products
    new_h = new_h + new_hidden_bias
    reset = _sigmoid(reset_x + reset_h)
    update = _sigmoid(update_x + update_h)
    candidate = jnp.tanh(new_x + reset * new_h)
    return reset, update, candidate, new_h


def _sigmoid(x: Array) -> Array:
    """The logistic function as `(1 + tanh(x / 2)) / 2`: equal to rounding, and faster than XLA's CPU `logistic`."""
    return 0.5 + 0.5 * jnp.tanh(0.5 * x)


def _forward(
    inputs: Array,
    input_weight: Array,
    input_bias: Array,
    hidden_weight: Array,
    hidden_bias: Array,
    save_factors: bool = False,
) -> tuple[Array, ...]:
    """Returns the hidden states and, with `save_factors`, the update gate and `_backward_factors` per position."""
    gates_x = _input_gates(inputs, input_weight, input_bias, hidden_bias)
    new_hidden_bias = jnp.split(hidden_bias, 3)[2]

    def step(hidden: Array, gates_x_t: tuple[Array, ...]) -> tuple[Array, Array | tuple[Array, ...]]:
        # One product for the three gates: with three narrow ones, a training step at batch 4, sequence 8 takes about
        # 8% longer on a 2-core CPU.
        hidden_products = tuple(jnp.split(hidden @ hidden_weight.T, 3, axis=-1))
        reset, update, candidate, new_h = _gates(gates_x_t, hidden_products, new_hidden_bias)
        new_hidden = candidate + update * (hidden - candidate)
        if not save_factors:
            return new_hidden, new_hidden
        return new_hidden, (new_hidden, update, *_backward_factors(hidden, reset, update, candidate, new_h))

    initial = jnp.zeros((inputs.shape[1], hidden_weight.shape[1]), inputs.dtype)
    _, outputs = jax.lax.scan(step, initial, gates_x)
    return outputs if isinstance(outputs, tuple) else (outputs,)


def _backward_factors(
    hidden: Array, reset: Array, update: Array, candidate: Array, new_h: Array
) -> tuple[Array, Array, Array, Array]:
    """Returns what turns g = dL/dh' into the gradients of the reset, update and `W_hn h + b_hn` pre-activations.

    With a = (1 - z)(1 - n^2), the candidate's factor: dL/d(reset pre-activation) = g a (W_hn h + b_hn) r(1 - r),
    dL/d(update pre-activation) = g (h - n) z(1 - z), dL/d(W_hn h + b_hn) = g a r and dL/d(candidate
    pre-activation) = g a. They are computed in the forward loop, where the gates are at hand: recomputing the
    gates afterwards costs a matrix product and more elementwise passes than storing them.
    """
    candidate_factor = (1.0 - update) * (1.0 - candidate * candidate)
    return (
        candidate_factor * new_h * reset * (1.0 - reset),
        (hidden - candidate) * update * (1.0 - update),
        candidate_factor * reset,
        candidate_factor,
    )


def _forward_with_residuals(inputs, input_weight, input_bias, hidden_weight, hidden_bias):
    hidden_states, *saved = _forward(inputs, input_weight, input_bias, hidden_weight, hidden_bias, save_factors=True)
    return hidden_states, (inputs, input_weight, hidden_weight, hidden_states, *saved)


def _backward(residuals, hidden_grads: Array) -> tuple[Array, ...]:
    inputs, input_weight, hidden_weight, hidden_states, update, *factors, candidate_factor = residuals

    # dL/dh = g z + [the reset, update and W_hn h + b_hn gradients] @ W_h, from the last position to the first.
    # The loop reads separate arrays: slicing one stacked array inside it is several times slower on CPU.
    def step(next_grad: Array, position: tuple[Array, ...]) -> tuple[Array, Array]:
        output_grad, update_t, *factors_t = position
        grad = output_grad + next_grad
        gates_grad = jnp.concatenate([grad * factor for factor in factors_t], axis=-1)
        return grad * update_t + gates_grad @ hidden_weight, grad

    _, grads = jax.lax.scan(step, jnp.zeros_like(hidden_states[0]), (hidden_grads, update, *factors), reverse=True)
    reset_grad, update_grad, new_h_grad = (grads * factor for factor in factors)
    candidate_grad = grads * candidate_factor
    hidden_size = hidden_weight.shape[1]
    input_gates_grad = jnp.concatenate([reset_grad, update_grad, candidate_grad], axis=-1).reshape(-1, 3 * hidden_size)
    hidden_gates_grad = jnp.concatenate([reset_grad, update_grad, new_h_grad], axis=-1).reshape(-1, 3 * hidden_size)
    flat_inputs = inputs.reshape(-1, inputs.shape[-1])
    previous = jnp.concatenate([jnp.zeros_like(hidden_states[:1]), hidden_states[:-1]]).reshape(-1, hidden_size)
    inputs_grad = (input_gates_grad @ input_weight).reshape(inputs.shape)
    input_weight_grad = _weight_gradient(flat_inputs, input_gates_grad)
    hidden_weight_grad = _weight_gradient(previous, hidden_gates_grad)
    reset_sum, update_sum, new_h_sum, candidate_sum = (
        grad.sum(axis=(0, 1)) for grad in (reset_grad, update_grad, new_h_grad, candidate_grad)
    )
    return (
        inputs_grad,
        input_weight_grad,
        jnp.concatenate([reset_sum, update_sum, candidate_sum]),
        hidden_weight_grad,
        jnp.concatenate([reset_sum, update_sum, new_h_sum]),
    )


# When XLA:CPU computes a weight gradient on one thread, splitting it pays (measured on 2 cores, plain against split):
# at 8192 rows, 1.9 against 1.2 ms for 64 input features and 3H = 192, 0.87 against 0.37 ms for 16 features, and
# 24.8 against 11.2 ms for 64 features and 3H = 1536; at 2048 rows, 0.61 against 0.33 ms for 64 and 192. With more
# input features, or fewer rows, it does not pay: at 2048 rows with 128 features and 3H = 192, 0.73 against 0.91 ms.
_SPLIT_MIN_ROWS = 2048
_SPLIT_MAX_INPUT_FEATURES = 64


def _weight_gradient(inputs: Array, gates_grad: Array) -> Array:
    """Returns `gates_grad.T @ inputs` for `(rows, in)` inputs and `(rows, 3H)` gradients: a weight's gradient.

    The product contracts all positions of all sequences into a small `(3H, in)` result, which XLA:CPU computes on
    one thread. On CPU, with many rows and few input features, it is split in two halves along the rows: a batched
    product whose halves run on two threads, then a sum (the timings at `_SPLIT_MIN_ROWS`). Other backends, and other
    shapes, get the plain product.
    """
    rows, features = inputs.shape
    split = (
        jax.default_backend() == "cpu"
        and rows >= _SPLIT_MIN_ROWS
        and rows % 2 == 0
        and features <= _SPLIT_MAX_INPUT_FEATURES
    )
    if not split:
        # `(x^T g)^T` rather than `g^T x`: XLA's CPU matmul is faster with the long axis contracted this way.
        return (inputs.T @ gates_grad).T
    # The halves stay a batch axis of the product and are summed afterwards: contracting them inside the product
    # would make it one single-threaded product again.
    halves = (array.reshape(2, rows // 2, array.shape[1]) for array in (inputs, gates_grad))
    return jnp.einsum("hri,hrg->hig", *halves).sum(axis=0).T


_recurrence.defvjp(_forward_with_residuals, _backward)
