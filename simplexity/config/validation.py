"""The one typed boundary: a composed (or loaded) config converted once into `ExperimentConfig` and checked."""

from typing import cast

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from simplexity.config.schema import ExperimentConfig
from simplexity.errors import ConfigError, one_line

# Nodes filled from a config group, and the override that selects the group's option for them.
GROUP_OF_NODE = {
    "training_data_generator": "generative_process@training_data_generator",
    "predictive_model": "predictive_model",
    "training": "training",
    "persistence": "persistence",
    "validation": "validation",
    "logging": "logging",
    "analysis": "analysis",
}


def validate_experiment_config(cfg: DictConfig | ExperimentConfig) -> ExperimentConfig:
    """Returns `cfg` as a checked `ExperimentConfig`, or raises a `ConfigError` for its first unusable value.

    A config composed by Hydra already has the schema's types; one loaded from a run's `config.yaml` is merged
    into the schema first. Interpolations are resolved and the `instance` nodes become plain dicts, ready for
    `hydra.utils.instantiate`.
    """
    if isinstance(cfg, ExperimentConfig):
        cfg.check()
        return cfg
    for key, group in GROUP_OF_NODE.items():
        node = OmegaConf.select(cfg, key, throw_on_missing=False)
        if node is not None and not OmegaConf.is_missing(cfg, key) and not isinstance(node, DictConfig):
            raise ConfigError.invalid(key, node, f"is a config node; choose one with {group}={node}")
    try:
        if OmegaConf.get_type(cfg) is not ExperimentConfig:
            cfg = cast(DictConfig, OmegaConf.merge(OmegaConf.structured(ExperimentConfig), cfg))
        missing = sorted(OmegaConf.missing_keys(cfg))
        if missing:
            raise ConfigError(f"{missing[0]}: missing required key")
        typed = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None)
        raise ConfigError(f"{key}: {one_line(error)}" if key else one_line(error)) from error
    assert isinstance(typed, ExperimentConfig)
    typed.check()
    return typed
