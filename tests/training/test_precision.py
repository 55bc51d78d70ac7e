"""Mixed precision: bfloat16 compute for every model, float32 parameters and gradients, and its effect on a run."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

from simplexity import build, load_config
from simplexity.config import ConfigError, validate_experiment_config
from simplexity.training.loss import next_token_loss
from simplexity.training.precision import COMPUTE_DTYPES, in_compute_dtype
from simplexity.training.settings import PRECISIONS
from tests.compilation import optimized_compiles

SMALL_MODELS = {
    "gru_rnn": ["predictive_model.instance.hidden_size=16", "predictive_model.instance.embedding_size=8"],
    "lstm": [],
    "transformer": ["predictive_model.instance.d_model=16", "predictive_model.instance.num_layers=1"],
    "gruformer": [],
    "penzai_transformer": [],
}


def test_the_config_and_the_trainer_know_the_same_precisions():
    assert set(PRECISIONS) == set(COMPUTE_DTYPES)


def test_an_unknown_precision_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"training.precision='float16': must be one of float32, bfloat16"):
        validate_experiment_config(load_config(["training.precision=float16"]))


def matmul_input_dtypes(function, *arguments) -> set[str]:
    """The dtypes of every operand of every matrix product in `function`'s jaxpr, nested calls included."""
    dtypes: set[str] = set()

    def visit(jaxpr):
        for equation in jaxpr.eqns:
            if equation.primitive.name == "dot_general":
                dtypes.update(str(variable.aval.dtype) for variable in equation.invars)
            for parameter in equation.params.values():
                for inner in parameter if isinstance(parameter, list | tuple) else [parameter]:
                    if hasattr(inner, "jaxpr"):
                        visit(inner.jaxpr if hasattr(inner.jaxpr, "eqns") else inner.jaxpr.jaxpr)
                    elif hasattr(inner, "eqns"):
                        visit(inner)

    visit(jax.make_jaxpr(function)(*arguments).jaxpr)
    return dtypes


@pytest.mark.parametrize("name", sorted(SMALL_MODELS))
def test_every_model_computes_in_the_precision_asked_with_float32_gradients(name):
    params, static = eqx.partition(
        build(load_config([f"predictive_model={name}", *SMALL_MODELS[name]])).model, eqx.is_array
    )
    tokens = jnp.tile(jnp.arange(9, dtype=jnp.int32) % 3, (2, 1))
    assert {leaf.dtype for leaf in jax.tree.leaves(params)} == {jnp.dtype(jnp.float32)}
    for precision in PRECISIONS:

        def loss(p, precision=precision):
            return next_token_loss(eqx.combine(in_compute_dtype(p, precision), static), tokens)

        assert matmul_input_dtypes(loss, params) == {precision}
        value, grads = jax.jit(jax.value_and_grad(loss))(params)
        assert value.dtype == jnp.float32
        assert {leaf.dtype for leaf in jax.tree.leaves(grads)} == {jnp.dtype(jnp.float32)}
        assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(grads))


@pytest.fixture(scope="module")
def default_runs():
    """The default run (GRU-RNN on mess3, 1,000 steps) in float32 and in bfloat16: final records."""
    with optimized_compiles():  # a thousand steps: optimized machine code pays for its compile
        return {
            precision: build(load_config([f"training.precision={precision}"])).train().metrics[-1]
            for precision in PRECISIONS
        }


@pytest.mark.slow
def test_bfloat16_training_ends_within_a_hundredth_of_a_nat_of_float32(default_runs):
    full, half = default_runs["float32"], default_runs["bfloat16"]
    assert abs(half["loss"] - full["loss"]) <= 0.01
    assert abs(half["validation/loss"] - full["validation/loss"]) <= 0.01
    assert half["validation/loss"] < jnp.log(3.0)  # it learned: below the loss of a uniform guess
