"""The `mess3_belief_geometry` experiment preset composes and builds what docs/belief_geometry.md describes."""

import jax
import jax.numpy as jnp
from hydra import compose, initialize_config_dir

from simplexity.config import CONFIG_DIR, register_configs
from simplexity.experiment import build_experiment
from simplexity.predictive_models import capture_activations, count_parameters

CONFIGS = CONFIG_DIR


def test_preset_builds_the_papers_setting():
    register_configs()
    with initialize_config_dir(str(CONFIGS), version_base=None):
        cfg = compose("train", overrides=["experiment=mess3_belief_geometry"])
    assert cfg.training_data_generator.name == "mess3"
    assert (cfg.training_data_generator.instance.x, cfg.training_data_generator.instance.a) == (0.05, 0.85)
    assert cfg.predictive_model.name == "transformer"
    assert cfg.training.sequence_len == 10
    experiment = build_experiment(cfg)
    assert count_parameters(experiment.model) == 51_395
    shapes = jax.eval_shape(lambda t: capture_activations(experiment.model, t), jnp.zeros((1, 10), jnp.int32))
    assert sorted(shapes) == [
        "block_0.resid_post",
        "block_1.resid_post",
        "block_2.resid_post",
        "block_3.resid_post",
        "embed",
    ]


def test_paper_preset_is_the_published_training_setting():
    register_configs()
    with initialize_config_dir(str(CONFIGS), version_base=None):
        cfg = compose("train", overrides=["experiment=mess3_belief_geometry_paper"])
    experiment = build_experiment(cfg)
    config = experiment.config
    instance = config.predictive_model.instance
    assert (instance["d_model"], instance["num_layers"], instance["num_heads"], instance["mlp_hidden"]) == (
        64,
        4,
        1,
        256,
    )
    assert (config.training.sequence_len, config.training.batch_size) == (10, 64)
    assert config.training.optimizer.name == "sgd"
    assert config.training.optimizer.instance["learning_rate"] == 0.01
    assert config.training.optimizer.instance["momentum"] is None
    tokens_per_step = config.training.sequence_len * config.training.batch_size
    assert [step * tokens_per_step for step in config.training.checkpoint_steps or []] == [
        64_000,
        640_000,
        3_200_000,
        32_000_000,
        64_000_000,
        96_000_000,
    ]
    assert config.training.num_steps == 150_000
