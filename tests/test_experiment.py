"""Building an experiment from a config: models that break the contract fail before any training step."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.config import ConfigError, load_config
from simplexity.experiment import build_experiment
from simplexity.training import train


def build_wrong_shape(vocab_size: int, seed: int):
    """A 'model' whose logits lack the vocabulary axis."""
    del seed
    return lambda tokens: jnp.zeros(tokens.shape, jnp.float32) * vocab_size


def build_without_vocab_size(seed: int):
    del seed
    return lambda tokens: tokens


def composed(*overrides: str):
    return load_config(overrides)


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


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("schedule", ["constant", "warmup_cosine"])
def test_each_optimizer_and_schedule_config_builds_and_trains(optimizer, schedule):
    cfg = composed(
        "training=tiny",
        f"training/optimizer={optimizer}",
        f"training/schedule={schedule}",
        "training.max_grad_norm=1.0",
    )
    experiment = build_experiment(cfg)
    peak = cfg.training.optimizer.instance.learning_rate
    assert (
        max(float(np.asarray(experiment.learning_rate(step))) for step in range(cfg.training.num_steps)) <= peak + 1e-12
    )
    result = train(experiment.model, experiment.process, experiment.optimizer, experiment.training, seed=0)
    assert all(np.isfinite(record["loss"]) for record in result.metrics)
    before = jax.tree.leaves(eqx.filter(experiment.model, eqx.is_array))
    after = jax.tree.leaves(eqx.filter(result.model, eqx.is_array))
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_validation_generator_must_share_the_training_vocabulary():
    cfg = composed("+generative_process@validation_data_generator=even_ones")
    with pytest.raises(ConfigError, match=r"validation_data_generator\.vocab_size=2: must equal"):
        build_experiment(cfg)
