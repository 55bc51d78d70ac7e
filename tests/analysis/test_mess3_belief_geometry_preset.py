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
    assert sorted(shapes) == ["block_0", "block_1", "block_2", "block_3", "embedding"]
