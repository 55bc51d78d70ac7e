"""Mixed precision: the dtype a training step computes in, while parameters, optimizer state and loss stay float32.

With `training.precision=bfloat16`, each step casts the float32 parameters to bfloat16 before the forward pass,
so every matrix product and activation of the model is bfloat16; the logits are cast back and the loss is taken in
float32 (`cross_entropy`), and the gradient flows back through the cast to the float32 parameters, which the
optimizer updates in float32.
"""

from typing import Any

import jax
import jax.numpy as jnp

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def in_compute_dtype(params: Any, precision: str) -> Any:
    """Returns `params` with every floating-point array cast to the compute dtype of `precision`.

    Integer arrays (and anything not floating) are left as they are; with `float32` nothing changes.

    Arguments:
        params: a pytree of arrays (the model's parameters).
        precision: a key of `COMPUTE_DTYPES`.
    """
    dtype = COMPUTE_DTYPES[precision]
    if dtype == jnp.float32:
        return params

    def cast(leaf: Any) -> Any:
        return leaf.astype(dtype) if jnp.issubdtype(leaf.dtype, jnp.floating) else leaf

    return jax.tree.map(cast, params)
