"""A model's parameters, split from its static structure with one filter, and their count.

The parameters are a model's floating-point array leaves (`eqx.is_inexact_array`; for a model traced by
`eqx.filter_eval_shape`, the shapes of such arrays): what gradients are taken of, what the optimizer updates, what a
checkpoint holds and what `count_parameters` counts. Every other leaf is static structure: sizes, functions, and any
integer or boolean array (an index table, a mask, a PRNG key), which `jax.grad` cannot differentiate. The models the
library builds (transformer, gruformer, GRU-RNN, LSTM, the penzai adapter) and the belief-state oracle hold float
arrays only, so for them the parameters are every array leaf.
"""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp


def _is_parameter(leaf: Any) -> bool:
    """Whether `leaf` is a floating-point array, or the shape of one (`jax.ShapeDtypeStruct`)."""
    if isinstance(leaf, jax.ShapeDtypeStruct):
        return bool(jnp.issubdtype(leaf.dtype, jnp.inexact))
    return eqx.is_inexact_array(leaf)


def split_parameters(model: Any) -> tuple[Any, Any]:
    """Returns `(params, static)`: the model's parameters and its static structure.

    Both have the model's tree structure, with `None` in place of the other's leaves, so that
    `eqx.combine(params, static)` is the model again (with `params` replaced by trained ones, the trained model).

    Example:
        >>> params, static = split_parameters(model)
        >>> trained = eqx.combine(new_params, static)
    """
    return eqx.partition(model, _is_parameter)


def count_parameters(model: Any) -> int:
    """Returns the number of trainable scalars in the model: the elements of its parameter arrays."""
    params, _ = split_parameters(model)
    return sum(leaf.size for leaf in jax.tree.leaves(params))


def count_parameters_of_build(build: Callable[[], Any]) -> int:
    """Returns `count_parameters` of the model `build()` returns, from its shapes alone: no array is allocated.

    `build` is traced (`eqx.filter_eval_shape`), so a model too large for memory is counted before it exists.

    Raises:
        Exception: whatever `build` raises, or a failure to trace it (a builder that needs concrete values).
    """
    return count_parameters(eqx.filter_eval_shape(build))
