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
from simplexity.config import register_configs
from simplexity.predictive_models import PredictiveModel, SiteHooks
from simplexity.predictive_models.transformer import (
    CausalSelfAttention,
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
    register_configs()  # `train.yaml` starts from the `train_schema` it stores
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
    assert set(activations) == {"embed", "block_0.resid_post", "block_1.resid_post"}
    for value in activations.values():
        assert value.shape == (4, 7, 8)
    # The last residual stream, read out through the final norm and head, gives the logits.
    per_position = jax.vmap(jax.vmap(lambda x: model.head(model.final_norm(x))))
    np.testing.assert_allclose(
        per_position(activations["block_1.resid_post"]), logits_of(model, tokens), rtol=1e-5, atol=1e-5
    )


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


def reference_attention(attention: CausalSelfAttention, x: jax.Array) -> jax.Array:
    """Causal softmax attention of one `(seq, d_model)` sequence, written out: scores, mask, softmax, weighted sum."""
    seq_len, d_model = x.shape
    num_heads = attention.num_heads
    head_dim = d_model // num_heads
    queries = jax.vmap(attention.query_proj)(x).reshape(seq_len, num_heads, head_dim)
    keys = jax.vmap(attention.key_proj)(x).reshape(seq_len, num_heads, head_dim)
    values = jax.vmap(attention.value_proj)(x).reshape(seq_len, num_heads, head_dim)
    if attention.rotary:
        queries, keys = apply_rotary(queries), apply_rotary(keys)
    scores = jnp.einsum("qhd,khd->hqk", queries, keys) / math.sqrt(head_dim)
    causal = np.tril(np.ones((seq_len, seq_len), dtype=bool))
    scores = jnp.where(causal, scores, -jnp.inf)
    weights = jnp.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    heads = jnp.einsum("hqk,khd->qhd", weights, values).reshape(seq_len, d_model)
    return jax.vmap(attention.output_proj)(heads)


def reference_logits(model: Transformer, tokens: jax.Array) -> jax.Array:
    """The logits of a `(batch, seq)` batch, with every block's attention replaced by `reference_attention`."""

    def one_sequence(tokens):
        x = model.token_embedding[tokens]
        if model.position_embedding is not None:
            x = x + model.position_embedding[: tokens.shape[0]]
        for block in model.blocks:
            assert isinstance(block.mixer, CausalSelfAttention)
            x = x + reference_attention(block.mixer, jax.vmap(block.norm1)(x))
            mlp = block.mlp
            x = x + jax.vmap(mlp.down)(jax.nn.gelu(jax.vmap(mlp.up)(jax.vmap(block.norm2)(x))))
        return jax.vmap(model.head)(jax.vmap(model.final_norm)(x))

    return jax.vmap(one_sequence)(tokens)


def in_bfloat16(tree):
    return jax.tree.map(lambda leaf: leaf.astype(jnp.bfloat16) if eqx.is_inexact_array(leaf) else leaf, tree)


@pytest.mark.parametrize("rotary", [False, True], ids=["no_positions", "rotary"])
@pytest.mark.parametrize("num_heads", [1, 2, 4])
def test_attention_equals_explicit_causal_softmax_attention(num_heads, rotary):
    attention = CausalSelfAttention(16, num_heads, rotary=rotary, key=jax.random.key(4))
    x = jax.random.normal(jax.random.key(5), (3, 9, 16))
    np.testing.assert_allclose(
        attention(x, SiteHooks(), "attn_pattern"),
        jax.vmap(lambda x: reference_attention(attention, x))(x),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("rotary", [False, True], ids=["no_positions", "rotary"])
def test_attention_gradients_equal_those_of_explicit_attention(rotary):
    attention = CausalSelfAttention(16, 4, rotary=rotary, key=jax.random.key(6))
    x = jax.random.normal(jax.random.key(7), (2, 7, 16))
    grads = eqx.filter_jit(
        eqx.filter_grad(lambda attention: jnp.sum(jnp.sin(attention(x, SiteHooks(), "attn_pattern"))))
    )(attention)
    reference_grads = eqx.filter_jit(
        eqx.filter_grad(lambda attention: jnp.sum(jnp.sin(jax.vmap(lambda x: reference_attention(attention, x))(x))))
    )(attention)
    for leaf, reference_leaf in zip(jax.tree.leaves(grads), jax.tree.leaves(reference_grads), strict=True):
        np.testing.assert_allclose(leaf, reference_leaf, rtol=1e-5, atol=1e-5)


FOUR_HEAD_SIZES: dict[str, Any] = {**TRANSFORMER_SIZES, "d_model": 16, "num_heads": 4}


@pytest.mark.parametrize(
    "build",
    [
        lambda: build_transformer(**TRANSFORMER_SIZES, max_sequence_len=8, positions="rotary", seed=0),
        lambda: build_transformer(**TRANSFORMER_SIZES, max_sequence_len=8, positions="learned", seed=0),
        lambda: build_transformer(**FOUR_HEAD_SIZES, max_sequence_len=8, positions="rotary", seed=2),
    ],
    ids=["rotary", "learned", "rotary_4_heads"],
)
def test_transformer_logits_equal_those_with_explicit_attention(build):
    model = build()
    tokens = jax.random.randint(jax.random.key(8), (4, 8), 0, 3)
    expected = eqx.filter_jit(reference_logits)(model, tokens)
    np.testing.assert_allclose(logits_of(model, tokens), expected, rtol=1e-5, atol=1e-6)


def test_transformer_builder_rejects_an_unknown_attention_implementation():
    with pytest.raises(ValueError, match="attention_implementation='flash' must be one of xla, cudnn"):
        build_transformer(**TRANSFORMER_SIZES, max_sequence_len=8, attention_implementation="flash")  # type: ignore[arg-type]


def test_default_transformer_config_uses_xla_attention():
    model = default_model("transformer")
    assert all(
        isinstance(block.mixer, CausalSelfAttention) and block.mixer.attention_implementation == "xla"
        for block in model.blocks
    )


@pytest.mark.gpu
@pytest.mark.parametrize("positions", ["rotary", "learned"])
def test_cudnn_attention_matches_xla_attention_in_bfloat16(positions):
    # cuDNN flash attention needs half precision and a head size that is a multiple of 8: 64 / 4 = 16.
    sizes: dict[str, Any] = {"vocab_size": 3, "d_model": 64, "num_layers": 2, "num_heads": 4, "mlp_hidden": 128}
    xla, cudnn = (
        in_bfloat16(build_transformer(**sizes, max_sequence_len=64, positions=positions, attention_implementation=kind))
        for kind in ("xla", "cudnn")
    )
    tokens = jax.random.randint(jax.random.key(9), (8, 64), 0, 3)
    xla_logits, cudnn_logits = logits_of(xla, tokens), logits_of(cudnn, tokens)
    assert cudnn_logits.dtype == jnp.bfloat16
    np.testing.assert_allclose(
        np.asarray(cudnn_logits, dtype=np.float32), np.asarray(xla_logits, dtype=np.float32), rtol=2e-2, atol=2e-2
    )
