"""A model's parameters: its floating-point arrays, split from its static structure."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp

from simplexity.predictive_models import build_gru_rnn, count_parameters, count_parameters_of_build, split_parameters


class _Lookup(eqx.Module):
    """A model with a leaf of every kind: float weights, an integer table, a boolean mask, a size, a function."""

    weight: jax.Array
    table: jax.Array
    mask: jax.Array
    width: int = eqx.field(static=True)
    activation: Callable[[jax.Array], jax.Array] = jax.nn.relu


def _lookup() -> _Lookup:
    return _Lookup(jnp.ones((2, 3)), jnp.arange(4), jnp.array([True, False]), width=3)


def test_the_parameters_are_the_floating_point_arrays_and_the_rest_is_static():
    model = _lookup()
    params, static = split_parameters(model)
    assert params.weight is model.weight
    assert params.table is None and params.mask is None and params.activation is None
    assert static.weight is None
    assert static.table is model.table and static.mask is model.mask and static.activation is jax.nn.relu


def test_combining_the_two_parts_gives_the_model_back():
    model = _lookup()
    assert eqx.tree_equal(eqx.combine(*split_parameters(model)), model)


def test_the_count_is_the_number_of_floating_point_elements():
    assert count_parameters(_lookup()) == 6


def gru(hidden_size: int):
    return build_gru_rnn(vocab_size=3, embedding_size=16, num_layers=2, hidden_size=hidden_size, seed=0)


def test_the_count_from_shapes_alone_is_the_count_of_the_built_model():
    assert count_parameters_of_build(_lookup) == count_parameters(_lookup()) == 6
    assert count_parameters_of_build(lambda: gru(64)) == count_parameters(gru(64))
    # 9 h^2 + 63 h + 51 for this network (40947 at h=64): 36 TB of float32 that is never allocated.
    assert count_parameters_of_build(lambda: gru(10**6)) == 9 * 10**12 + 63 * 10**6 + 51
