"""Building an experiment from a config: models that break the contract fail before any training step."""

from pathlib import Path

import jax.numpy as jnp
import pytest
from hydra import compose, initialize_config_dir

from simplexity.config import ConfigError
from simplexity.experiment import build_experiment

CONFIG_DIR = str(Path(__file__).parents[1] / "configs")


def build_wrong_shape(vocab_size: int, seed: int):
    """A 'model' whose logits lack the vocabulary axis."""
    del seed
    return lambda tokens: jnp.zeros(tokens.shape, jnp.float32) * vocab_size


def build_without_vocab_size(seed: int):
    del seed
    return lambda tokens: tokens


def composed(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        return compose(config_name="train", overrides=list(overrides))


def test_model_with_wrong_output_shape_fails_at_construction():
    cfg = composed(
        "predictive_model.instance._target_=tests.test_experiment.build_wrong_shape",
        "~predictive_model.instance.embedding_size",
        "~predictive_model.instance.num_layers",
        "~predictive_model.instance.hidden_size",
        "~predictive_model.instance.layer_norm",
    )
    with pytest.raises(ConfigError, match=r"predictive_model.instance: model returns shape \(2, 64\)"):
        build_experiment(cfg)


def test_builder_without_vocab_size_fails_at_construction():
    cfg = composed(
        "predictive_model.instance._target_=tests.test_experiment.build_without_vocab_size",
        "~predictive_model.instance.embedding_size",
        "~predictive_model.instance.num_layers",
        "~predictive_model.instance.hidden_size",
        "~predictive_model.instance.layer_norm",
    )
    with pytest.raises(ConfigError, match=r"predictive_model.instance: .*unexpected keyword argument 'vocab_size'"):
        build_experiment(cfg)


def test_default_experiment_builds_the_configured_parts():
    experiment = build_experiment(composed())
    assert experiment.process.vocab_size == 3
    assert experiment.training.sequence_len == 64
