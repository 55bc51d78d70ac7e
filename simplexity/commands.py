"""The two commands: `simplexity-train` (`python run_experiment.py`) and `simplexity-analyze` (`run_analysis.py`).

Both compose their config with Hydra from the configs shipped in the package (`simplexity/configs/`), so they
work from any directory once simplexity is installed. A directory of your own configs joins the search path
with `hydra.searchpath=[file:///ABSOLUTE/DIR]`: its groups' options are then selectable beside the shipped ones.
"""

import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from simplexity.analysis import analysis_options, analyze_run, format_report
from simplexity.analysis.trained_run import SWEEP_TABLE, analyze_sweep, format_sweep_table, sweep_run_dirs
from simplexity.cli import run_reporting_user_errors
from simplexity.config import ConfigError
from simplexity.config.loading import expand_override_aliases
from simplexity.config.schema import register_configs
from simplexity.run import run_experiment

CONFIG_PACKAGE = "pkg://simplexity.configs"


def _train(cfg: DictConfig) -> float:
    """Runs one experiment in its Hydra run directory and returns its final loss (for sweepers)."""
    hydra_config = HydraConfig.get()
    if hydra_config.mode == RunMode.RUN and not str(hydra_config.run.dir).strip():
        raise ConfigError.invalid("hydra.run.dir", hydra_config.run.dir, "must be a non-empty path (the run directory)")
    return run_experiment(cfg, hydra_config.runtime.output_dir)


def _analyze(cfg: DictConfig) -> None:
    """Analyses the run at `cfg.run_dir` (or every run of a sweep directory there) and prints a summary."""
    options = analysis_options(cfg)
    run_dir = Path(cfg.run_dir)
    if not (run_dir / "config.yaml").is_file() and sweep_run_dirs(run_dir):
        rows = analyze_sweep(run_dir, options, progress=_show_progress)
        print(format_sweep_table(rows))
        print(f"wrote analysis.json into each of {len(rows)} runs and {SWEEP_TABLE} to {run_dir}")
        return
    report = analyze_run(run_dir, options, progress=_show_progress)
    print(format_report(report))
    print(f"wrote analysis.json and {', '.join(report['figures'])} to {report['output_dir']}")


def _show_progress(line: str) -> None:
    """Prints one line of the analysis' progress at once, also when standard output is a pipe or a file."""
    print(line, flush=True)


def train() -> None:
    """Trains a predictive model on a generative process: `simplexity-train [key=value ...]`.

    `simplexity-train --help` lists the config groups and their options; see docs/configuration.md.
    """
    register_configs()
    sys.argv[1:] = expand_override_aliases(sys.argv[1:])
    run_reporting_user_errors(_train, config_path=CONFIG_PACKAGE, config_name="train")


def analyze() -> None:
    """Analyses a run's belief-state geometry: `simplexity-analyze run_dir=DIR [key=value ...]`."""
    run_reporting_user_errors(_analyze, config_path=CONFIG_PACKAGE, config_name="analyze")
