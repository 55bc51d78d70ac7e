"""The contract every model YAML of `predictive_model/` is held to; a new YAML is covered with no new test.

Each model is built the way `run_experiment.py` builds it (`build_experiment` on the composed config, so
penzai models arrive through their adapter), with vocab_size injected from a data generator of 11 tokens.
"""

import re
import sys
from pathlib import Path

import equinox as eqx
import jax
import numpy as np
import optax
import pytest

from simplexity.config import CONFIG_DIR as PACKAGE_CONFIG_DIR
from simplexity.config import load_config
from simplexity.experiment import build_experiment
from simplexity.persistence import Checkpointer
from simplexity.predictive_models import (
    AbstractSiteModel,
    PredictiveModel,
    capture_activations,
    intervene,
    split_parameters,
)
from simplexity.training import initial_train_state

CONFIG_DIR = PACKAGE_CONFIG_DIR
MODEL_NAMES = sorted(path.stem for path in (CONFIG_DIR / "predictive_model").glob("*.yaml"))
THROWAWAY = "throwaway_lstm"
DOCS_EXAMPLE = "causal_convolution"  # the worked example of docs/adding_models.md
ADDING_MODELS_DOC = Path(__file__).parents[2] / "docs" / "adding_models.md"
VOCAB_SIZE = 11  # days_of_week: a vocabulary no model YAML hard-codes
BATCH, SEQ = 2, 7

THROWAWAY_YAML = """\
name: throwaway_lstm
load_checkpoint_step: null
load_checkpoint_dir: null
instance:
  _target_: simplexity.predictive_models.build_lstm
  vocab_size: ${training_data_generator.vocab_size}
  embedding_size: 4
  num_layers: 1
  hidden_size: 6
  seed: ${seed}
"""


def write_docs_example(directory: Path) -> list[str]:
    """Writes every code block of the adding-models doc that starts with `# file: PATH` to `directory/PATH`."""
    blocks = re.findall(r"```(?:python|yaml)\n# file: (\S+)\n(.*?)```", ADDING_MODELS_DOC.read_text(), re.DOTALL)
    for relative_path, body in blocks:
        (directory / relative_path).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative_path).write_text(body)
    return [relative_path for relative_path, _ in blocks]


@pytest.fixture(scope="session")
def extra_config_dir(tmp_path_factory):
    """A config directory outside the repository: a throwaway model YAML and the docs' worked example."""
    directory = tmp_path_factory.mktemp("extra_configs")
    (directory / "predictive_model").mkdir()
    (directory / "predictive_model" / f"{THROWAWAY}.yaml").write_text(THROWAWAY_YAML)
    assert sorted(write_docs_example(directory)) == ["my_models.py", f"predictive_model/{DOCS_EXAMPLE}.yaml"]
    sys.path.insert(0, str(directory))  # the example's module, as a user would put it on PYTHONPATH
    yield directory
    sys.path.remove(str(directory))


def build_model(name: str, extra_config_dir: Path, seed: int = 0) -> PredictiveModel:
    overrides = [
        f"predictive_model={name}",
        "generative_process@training_data_generator=days_of_week",
        f"seed={seed}",
        f"training.sequence_len={SEQ}",
        f"hydra.searchpath=[file://{extra_config_dir}]",
    ]
    return build_experiment(load_config(overrides)).model


@pytest.fixture(scope="module", params=[*MODEL_NAMES, THROWAWAY, DOCS_EXAMPLE])
def model_case(request, extra_config_dir) -> tuple[str, PredictiveModel, Path]:
    return request.param, build_model(request.param, extra_config_dir), extra_config_dir


@pytest.fixture(scope="module")
def tokens() -> jax.Array:
    return jax.random.randint(jax.random.key(0), (BATCH, SEQ), 0, VOCAB_SIZE)


def params_of(model) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))]


def test_the_suite_covers_every_built_in_model():
    assert {"gru_rnn", "lstm", "transformer", "gruformer", "penzai_transformer"} <= set(MODEL_NAMES)


def test_every_array_of_a_built_in_model_is_a_parameter(model_case):
    name, model, _ = model_case
    if name not in MODEL_NAMES:
        pytest.skip("a model of a user's own may hold integer arrays, which are static structure")
    _, static = split_parameters(model)
    assert not [leaf for leaf in jax.tree.leaves(static) if eqx.is_array(leaf)]


def test_logits_have_the_injected_vocabulary_and_are_finite(model_case, tokens):
    _, model, _ = model_case
    assert isinstance(model, PredictiveModel)
    logits = model(tokens)
    assert logits.shape == (BATCH, SEQ, VOCAB_SIZE)
    assert np.all(np.isfinite(logits))


@pytest.mark.parametrize("position", [0, SEQ // 2, SEQ - 1])
def test_changing_a_token_changes_no_earlier_logit(model_case, tokens, position):
    _, model, _ = model_case
    changed = tokens.at[:, position].set((tokens[:, position] + 1) % VOCAB_SIZE)
    before, after = model(tokens), model(changed)
    np.testing.assert_allclose(before[:, :position], after[:, :position], atol=1e-6)
    assert not np.allclose(before[:, position], after[:, position])


def test_same_seed_same_parameters_other_seed_other_parameters(model_case):
    name, model, config_dir = model_case
    again, other = build_model(name, config_dir, seed=0), build_model(name, config_dir, seed=1)
    for a, b in zip(params_of(model), params_of(again), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(params_of(model), params_of(other), strict=True))


def test_jit_and_every_parameter_receives_a_gradient(model_case, tokens):
    _, model, _ = model_case
    targets = jax.random.randint(jax.random.key(1), (BATCH, SEQ), 0, VOCAB_SIZE)

    @eqx.filter_jit
    def loss_and_grads(model):
        def loss(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(tokens), targets).mean()

        return eqx.filter_value_and_grad(loss)(model)

    loss, grads = loss_and_grads(model)
    assert np.isfinite(loss)
    for leaf in jax.tree.leaves(eqx.filter(grads, eqx.is_inexact_array)):
        assert np.all(np.isfinite(leaf))
        assert np.any(leaf != 0)


def test_activations_are_named_batch_seq_features_arrays(model_case, tokens):
    _, model, _ = model_case
    activations = capture_activations(model, tokens)
    assert len(activations) >= 2
    for name, value in activations.items():
        assert value.ndim == 3 and value.shape[:2] == (BATCH, SEQ), name
        assert np.all(np.isfinite(value)), name


def test_every_site_has_its_documented_shape_and_attention_patterns_are_causal_rows_of_one(model_case, tokens):
    _, model, _ = model_case
    assert isinstance(model, AbstractSiteModel)
    assert set(model.default_sites) <= set(model.sites)
    activations = model.activations(tokens, model.sites)
    assert list(activations) == list(model.sites)
    for name, value in activations.items():
        assert np.all(np.isfinite(value)), name
        if name.endswith("attn_pattern"):  # (batch, heads, query, key)
            assert value.ndim == 4 and value.shape[0] == BATCH and value.shape[2:] == (SEQ, SEQ), name
            np.testing.assert_allclose(np.sum(value, axis=-1), 1.0, atol=1e-6)
            assert np.all(np.triu(np.asarray(value), k=1) == 0), name  # no query sees a later key
        else:
            assert value.ndim == 3 and value.shape[:2] == (BATCH, SEQ), name


def editable_sites(model: AbstractSiteModel) -> list[str]:
    return [site for site in model.sites if not site.endswith(".cell")]  # an LSTM's cell state is read-only


def test_the_identity_intervention_at_every_site_is_bit_identical(model_case, tokens):
    _, model, _ = model_case
    identity = intervene(model, {site: lambda activation: activation for site in editable_sites(model)})
    call = eqx.filter_jit(lambda model, tokens: model(tokens))
    np.testing.assert_array_equal(identity(tokens), model(tokens))
    np.testing.assert_array_equal(call(identity, tokens), call(model, tokens))
    recorded, intervened_record = model.activations(tokens, model.sites), identity.activations(tokens, model.sites)
    for site in model.sites:
        np.testing.assert_array_equal(intervened_record[site], recorded[site])


def test_an_intervention_changes_no_site_before_it_and_reaches_the_logits(model_case, tokens):
    _, model, _ = model_case
    recorded, logits = model.activations(tokens, model.sites), model(tokens)
    for index, site in enumerate(model.sites):
        if site not in editable_sites(model):
            continue
        edited = intervene(model, {site: lambda activation: activation + 0.5})
        after = edited.activations(tokens, model.sites)
        for earlier in model.sites[:index]:
            np.testing.assert_array_equal(after[earlier], recorded[earlier], err_msg=f"{earlier} after editing {site}")
        assert not np.array_equal(after[site], recorded[site]), site
        assert not np.array_equal(edited(tokens), logits), site


def test_checkpoint_round_trip_restores_the_same_model(model_case, tokens, tmp_path):
    _, model, _ = model_case
    optimizer = optax.adam(1e-3)
    state = initial_train_state(model, optimizer)
    checkpointer = Checkpointer(tmp_path)
    checkpointer.save(0, state)
    restored = checkpointer.restore(0, state)
    static = eqx.filter(model, eqx.is_array, inverse=True)
    np.testing.assert_array_equal(eqx.combine(restored.params, static)(tokens), model(tokens))
    checkpointer.close()
