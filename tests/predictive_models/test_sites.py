"""Named activation sites: the documented shapes of each built-in model config's sites, and how edits behave."""

import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from omegaconf import OmegaConf

from simplexity.config import CONFIG_DIR, load_config
from simplexity.experiment import build_experiment
from simplexity.predictive_models import AbstractSiteModel, UnknownSiteError, build_lstm, build_transformer, intervene

BATCH, SEQ = 2, 5


def built(name: str):
    """The model of `predictive_model/NAME.yaml` on mess3 (3 tokens), and that YAML's instance settings."""
    config = load_config([f"predictive_model={name}", f"training.sequence_len={SEQ}"])
    settings = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "predictive_model" / f"{name}.yaml"))
    assert isinstance(settings, dict)
    return build_experiment(config).model, settings["instance"]


def expected_shapes(name: str, instance: dict) -> dict[str, tuple[int, ...]]:
    """Every site's shape for a batch of (BATCH, SEQ) tokens, from the model's YAML, as docs/interventions.md says."""
    if name in ("gru_rnn", "lstm"):
        shapes = {"embed": (BATCH, SEQ, instance["embedding_size"])}
        for layer in range(instance["num_layers"]):
            if name == "lstm":
                shapes[f"layer_{layer}.cell"] = (BATCH, SEQ, instance["hidden_size"])
            shapes[f"layer_{layer}.hidden"] = (BATCH, SEQ, instance["hidden_size"])
        return shapes
    if name == "penzai_transformer":
        config = instance["config"]
        width, hidden, layers = config["embedding_dim"], config["mlp_hidden_dim"], config["num_decoder_blocks"]
        heads = config["num_kv_heads"] * config["query_head_multiplier"]
    else:
        width, hidden, layers = instance["d_model"], instance["mlp_hidden"], instance["num_layers"]
        heads = instance.get("num_heads", 0)  # a GRUFormer has none
    stream = (BATCH, SEQ, width)
    shapes: dict[str, tuple[int, ...]] = {"embed": stream}
    for block in range(layers):
        prefix = f"block_{block}."
        shapes[f"{prefix}resid_pre"] = stream
        if name == "gruformer":
            shapes[f"{prefix}gru_out"] = stream
        else:
            shapes[f"{prefix}attn_pattern"] = (BATCH, heads, SEQ, SEQ)
            shapes[f"{prefix}attn_out"] = stream
        shapes |= {
            f"{prefix}resid_mid": stream,
            f"{prefix}mlp_hidden": (BATCH, SEQ, hidden),
            f"{prefix}mlp_out": stream,
            f"{prefix}resid_post": stream,
        }
    return {**shapes, "final_norm": stream}


@pytest.mark.parametrize("name", ["gru_rnn", "lstm", "transformer", "gruformer", "penzai_transformer"])
def test_every_site_of_each_built_in_model_has_its_documented_shape(name):
    model, instance = built(name)
    assert isinstance(model, AbstractSiteModel)
    expected = expected_shapes(name, instance)
    tokens = jnp.zeros((BATCH, SEQ), jnp.int32)
    shapes = jax.eval_shape(lambda tokens: model.activations(tokens, model.sites), tokens)
    assert list(model.sites) == list(expected)
    assert {site: tuple(shape.shape) for site, shape in shapes.items()} == expected


@pytest.fixture(scope="module")
def transformer():
    return build_transformer(3, d_model=8, num_layers=2, num_heads=2, mlp_hidden=16, max_sequence_len=SEQ)


@pytest.fixture(scope="module")
def tokens():
    return jax.random.randint(jax.random.key(0), (BATCH, SEQ), 0, 3)


def test_an_unknown_site_is_refused_naming_the_sites_there_are(transformer, tokens):
    with pytest.raises(
        UnknownSiteError, match=re.escape("Transformer has no site 'block_2.resid_post'; its sites are embed, ")
    ):
        transformer.activations(tokens, ["block_2.resid_post"])
    with pytest.raises(UnknownSiteError, match=re.escape("edits: Transformer has no site 'resid_post'")):
        intervene(transformer, {"resid_post": jnp.zeros_like})


def test_an_edit_that_changes_the_shape_is_refused_naming_the_site(transformer, tokens):
    edited = intervene(transformer, {"block_0.mlp_out": lambda activation: activation[..., :4]})
    with pytest.raises(ValueError, match=re.escape("the edit of site 'block_0.mlp_out' returned shape")):
        edited(tokens)


def test_an_lstm_cell_can_be_read_but_not_edited(tokens):
    lstm = build_lstm(3, embedding_size=4, num_layers=1, hidden_size=6, seed=0)
    assert lstm.activations(tokens, ["layer_0.cell"])["layer_0.cell"].shape == (BATCH, SEQ, 6)
    with pytest.raises(ValueError, match=re.escape("site layer_0.cell can be read but not edited")):
        intervene(lstm, {"layer_0.cell": jnp.zeros_like})(tokens)


def test_nested_interventions_apply_the_inner_edit_first(transformer, tokens):
    inner = intervene(transformer, {"embed": lambda activation: activation * 2.0})
    nested = intervene(inner, {"embed": lambda activation: activation + 1.0})
    once = intervene(transformer, {"embed": lambda activation: activation * 2.0 + 1.0})
    np.testing.assert_array_equal(nested(tokens), once(tokens))
    recorded = nested.activations(tokens, ["embed"])["embed"]
    np.testing.assert_array_equal(recorded, transformer.activations(tokens, ["embed"])["embed"] * 2.0 + 1.0)


class AddVector(eqx.Module):
    vector: jax.Array

    def __call__(self, activation):
        return activation + self.vector


def test_an_edit_holding_arrays_is_traced_so_one_compile_serves_every_value(transformer, tokens):
    traces = []

    @eqx.filter_jit
    def logits(model, tokens):
        traces.append(1)
        return model(tokens)

    first = logits(intervene(transformer, {"block_1.resid_mid": AddVector(jnp.ones(8))}), tokens)
    second = logits(intervene(transformer, {"block_1.resid_mid": AddVector(-jnp.ones(8))}), tokens)
    assert len(traces) == 1 and not np.array_equal(first, second)
    eager = intervene(transformer, {"block_1.resid_mid": AddVector(-jnp.ones(8))})(tokens)
    np.testing.assert_allclose(second, eager, rtol=1e-6, atol=1e-6)


def test_the_fused_cudnn_attention_has_no_pattern_site():
    model = build_transformer(
        3, d_model=16, num_layers=1, num_heads=2, mlp_hidden=16, max_sequence_len=SEQ, attention_implementation="cudnn"
    )
    assert "block_0.attn_pattern" not in model.sites and "block_0.attn_out" in model.sites


def test_a_relu_transformer_computes_relu_in_its_mlps_and_gelu_stays_the_default(tokens):
    relu = build_transformer(
        3, d_model=8, num_layers=1, num_heads=2, mlp_hidden=16, max_sequence_len=SEQ, activation="relu"
    )
    sites = relu.activations(tokens, ["block_0.resid_mid", "block_0.mlp_hidden"])
    block = relu.blocks[0]
    pre_activation = jax.vmap(jax.vmap(lambda x: block.mlp.up(block.norm2(x))))(sites["block_0.resid_mid"])
    np.testing.assert_allclose(sites["block_0.mlp_hidden"], np.maximum(pre_activation, 0.0), rtol=1e-6, atol=1e-6)
    assert np.any(np.asarray(sites["block_0.mlp_hidden"]) == 0.0)
    gelu = build_transformer(3, d_model=8, num_layers=1, num_heads=2, mlp_hidden=16, max_sequence_len=SEQ)
    assert gelu.blocks[0].mlp.activation == "gelu"
    with pytest.raises(ValueError, match=re.escape("activation='tanh' must be one of gelu, relu")):
        build_transformer(3, 8, 1, 2, 16, SEQ, activation="tanh")  # type: ignore[arg-type]
