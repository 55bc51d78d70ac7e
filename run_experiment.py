"""Trains a predictive model on a generative process: `python run_experiment.py [key=value ...]`.

The configs live in `configs/`; `python run_experiment.py --help` lists the config groups and options.
"""

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from simplexity.cli import report_config_errors, run_reporting_user_errors
from simplexity.config.schema import register_configs
from simplexity.run import run_experiment

register_configs()


@hydra.main(config_path="configs", config_name="train", version_base=None)
@report_config_errors
def main(cfg: DictConfig) -> float:
    """Runs one experiment in its Hydra run directory and returns its final loss (for sweepers)."""
    return run_experiment(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    run_reporting_user_errors(main)
