import math
from typing import Any

import equinox as eqx
import hydra
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hydra import compose, initialize_config_dir

from simplexity.config import CONFIG_DIR as PACKAGE_CONFIG_DIR
from simplexity.predictive_models import PredictiveModel
from simplexity.predictive_models.transformer import (
    Transformer,
    apply_rotary,
    build_gruformer,
    build_transformer,
)
from simplexity.training import TrainingConfig, train

CONFIG_DIR = str(PACKAGE_CONFIG_DIR)
MODELS = ["rotary_transformer", "learned_transformer", "gruformer"]

TRANSFORMER_SIZES: dict[str, Any] = {"vocab_size": 3, "d_model": 8, "num_layers": 2, "num_heads": 2, "mlp_hidden": 16}
GRUFORMER_SIZES: dict[str, Any] = {"vocab_size": 3, "d_model": 8, "num_layers": 2, "mlp_hidden": 16}

# One compiled forward pass per model structure and token shape, shared by every test of this module.
logits_of = eqx.filter_jit(lambda model, tokens: model(tokens))


@pytest.fixture(scope="module")
def rotary_transformer() -> Transformer:
    return build_transformer(**TRANSFORMER_SIZES, max_sequence_len=8, positions="rotary", seed=0)


@pytest.fixture(scope="module")
def learned_transformer() -> Transformer:
    return build_transformer(**TRANSFORMER_SIZES, max_sequence_len=8, positions="learned", seed=0)


@pytest.fixture(scope="module")
def gruformer() -> Transformer:
    return build_gruformer(**GRUFORMER_SIZES, seed=0)


@pytest.fixture(params=MODELS)
def model(request) -> Transformer:
    return request.getfixturevalue(request.param)


def default_model(name: str) -> Transformer:
    """Returns the model of `configs/predictive_model/{name}.yaml`, built the way `run_experiment.py` builds it."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        cfg = compose(config_name="train", overrides=[f"predictive_model={name}"])
    return hydra.utils.instantiate(cfg.predictive_model.instance)


def params_of(model):
    return jax.tree.leaves(eqx.filter(model, eqx.is_array))


def test_output_shape_and_protocol(model):
    tokens = jnp.zeros((5, 7), dtype=jnp.int32)
    assert logits_of(model, tokens).shape == (5, 7, 3)
    assert isinstance(model, PredictiveModel)


def test_outputs_are_finite(model):
    tokens = jax.random.randint(jax.random.key(0), (4, 7), 0, 3)
    assert np.all(np.isfinite(logits_of(model, tokens)))


@pytest.mark.parametrize("position", [0, 3, 6])
def test_changing_a_token_changes_no_earlier_logit(model, position):
    tokens = jax.random.randint(jax.random.key(0), (2, 7), 0, 3)
    changed = tokens.at[:, position].set((tokens[:, position] + 1) % 3)
    before, after = logits_of(model, tokens), logits_of(model, changed)
    np.testing.assert_array_equal(before[:, :position], after[:, :position])
    assert not np.allclose(before[:, position], after[:, position])


@pytest.mark.parametrize(
    "build",
    [
        lambda seed: build_transformer(**TRANSFORMER_SIZES, max_sequence_len=8, positions="learned", seed=seed),
        lambda seed: build_gruformer(**GRUFORMER_SIZES, seed=seed),
    ],
    ids=["transformer", "gruformer"],
)
def test_same_seed_same_parameters_other_seed_other_parameters(build):
    first, again, other = params_of(build(0)), params_of(build(0)), params_of(build(1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    # LayerNorm starts at weight 1 and bias 0 whatever the seed; every randomly drawn parameter must differ.
    random_pairs = [(a, b) for a, b in zip(first, other, strict=True) if np.ptp(a) > 0]
    assert len(random_pairs) > len(first) // 2
    assert not any(np.array_equal(a, b) for a, b in random_pairs)


def test_every_parameter_receives_a_gradient_under_jit(model):
    tokens = jax.random.randint(jax.random.key(1), (2, 6), 0, 3)
    grads = eqx.filter_jit(eqx.filter_grad(lambda model: jnp.sum(model(tokens) ** 2)))(model)
    for leaf in jax.tree.leaves(grads):
        assert np.all(np.isfinite(leaf))
        assert np.any(leaf != 0)


def test_activations_are_the_residual_stream_after_embedding_and_every_block(model):
    tokens = jax.random.randint(jax.random.key(2), (4, 7), 0, 3)
    activations = eqx.filter_jit(lambda model, tokens: model.activations(tokens))(model, tokens)
    assert set(activations) == {"embedding", "block_0", "block_1"}
    for value in activations.values():
        assert value.shape == (4, 7, 8)
    # The last residual stream, read out through the final norm and head, gives the logits.
    per_position = jax.vmap(jax.vmap(lambda x: model.head(model.final_norm(x))))
    np.testing.assert_allclose(per_position(activations["block_1"]), logits_of(model, tokens), rtol=1e-5, atol=1e-5)


def test_learned_positions_reject_sequences_longer_than_max_sequence_len(learned_transformer):
    assert logits_of(learned_transformer, jnp.zeros((1, 8), dtype=jnp.int32)).shape == (1, 8, 3)
    with pytest.raises(ValueError, match="longer than max_sequence_len=8"):
        jax.eval_shape(learned_transformer, jax.ShapeDtypeStruct((1, 9), jnp.int32))


def test_rotary_positions_accept_sequences_longer_than_max_sequence_len(rotary_transformer):
    logits = jax.eval_shape(rotary_transformer, jax.ShapeDtypeStruct((1, 20), jnp.int32))
    assert logits.shape == (1, 20, 3)


def test_rotary_scores_depend_only_on_relative_position():
    query, key = jax.random.normal(jax.random.key(3), (2, 1, 1, 4))
    queries, keys = apply_rotary(jnp.tile(query, (6, 1, 1))), apply_rotary(jnp.tile(key, (6, 1, 1)))
    scores = jnp.einsum("qhd,khd->qk", queries, keys)
    np.testing.assert_allclose(scores[2, 0], scores[5, 3], rtol=1e-5)
    np.testing.assert_allclose(scores[1, 4], scores[0, 3], rtol=1e-5)
    assert not np.isclose(scores[2, 0], scores[2, 1])


@pytest.mark.parametrize("name", ["vocab_size", "d_model", "num_layers", "num_heads", "mlp_hidden", "max_sequence_len"])
@pytest.mark.parametrize("value", [0, 2.5, True])
def test_transformer_builder_rejects_sizes_that_are_not_positive_integers(name, value):
    sizes: dict[str, Any] = {**TRANSFORMER_SIZES, "max_sequence_len": 8, name: value}
    with pytest.raises(ValueError, match=f"{name}={value!r} must be a positive integer"):
        build_transformer(**sizes)


@pytest.mark.parametrize("name", ["vocab_size", "d_model", "num_layers", "mlp_hidden"])
def test_gruformer_builder_rejects_non_positive_sizes(name):
    with pytest.raises(ValueError, match=f"{name}=0 must be a positive integer"):
        build_gruformer(**GRUFORMER_SIZES | {name: 0})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"positions": "sinusoidal"}, "positions='sinusoidal' must be one of learned, rotary"),
        ({"num_heads": 3}, "num_heads=3 must divide d_model=8"),
        ({"d_model": 12, "num_heads": 4}, "d_model=12 / num_heads=4 must be even for rotary"),
    ],
)
def test_transformer_builder_rejects_bad_positions_and_heads(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_transformer(**TRANSFORMER_SIZES | {"max_sequence_len": 8} | overrides)


@pytest.mark.parametrize("name", ["transformer", "gruformer"])
def test_default_config_builds_a_model(name):
    model = default_model(name)
    assert isinstance(model, Transformer)
    assert model.mixer == {"transformer": "attention", "gruformer": "gru"}[name]


def test_default_transformer_learns_mess3(mess3):
    config = TrainingConfig(sequence_len=16, batch_size=64, num_steps=150, log_every=50)
    result = train(default_model("transformer"), mess3, optax.adam(3e-3), config, seed=0)
    assert result.metrics[-1]["loss"] < math.log(3) - 0.003
