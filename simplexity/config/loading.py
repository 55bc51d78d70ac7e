"""Composing the command line's config without the command line: for notebooks and tests."""

from collections.abc import Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from simplexity.config.schema import register_configs

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def load_config(overrides: Sequence[str] = (), config_dir: str | Path = CONFIG_DIR) -> DictConfig:
    """Returns the config `python run_experiment.py OVERRIDES...` would run, composed by Hydra.

    Arguments:
        overrides: command-line style overrides, e.g. `["predictive_model=transformer", "seed=3"]`.
        config_dir: the directory holding `train.yaml` (the package's `simplexity/configs/` by default).

    Example:
        >>> cfg = load_config(["predictive_model=lstm", "training=tiny"])
        >>> experiment = build(cfg)
        >>> result = experiment.train()
    """
    register_configs()
    with initialize_config_dir(config_dir=str(Path(config_dir).absolute()), version_base=None):
        return compose(config_name="train", overrides=list(overrides))
