"""The two commands: `simplexity-train` (`python run_experiment.py`) and `simplexity-analyze` (`run_analysis.py`).

Both compose their config with Hydra from `CONFIG_DIR` (`simplexity.config.loading`): the repository's `configs/`
in a source tree, its copy installed by the wheel (the package data of `simplexity.configs`) otherwise, so they work
from any directory once simplexity is installed. A directory of your own configs joins the search path with
`hydra.searchpath=[file:///ABSOLUTE/DIR]`: its groups' options are then selectable beside the shipped ones.
"""

import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from simplexity.analysis import ANALYSIS_FILE, SWEEP_TABLE, format_report, format_sweep_table
from simplexity.cli import run_reporting_user_errors
from simplexity.config import ConfigError, validate_analyze_config
from simplexity.config.loading import CONFIG_DIR, expand_override_aliases
from simplexity.config.schema import register_configs
from simplexity.run import run_experiment


def _train(cfg: DictConfig) -> float:
    """Runs one experiment in its Hydra run directory and returns its final loss (for sweepers)."""
    hydra_config = HydraConfig.get()
    if hydra_config.mode == RunMode.RUN and not str(hydra_config.run.dir).strip():
        raise ConfigError.invalid("hydra.run.dir", hydra_config.run.dir, "must be a non-empty path (the run directory)")
    return run_experiment(cfg, hydra_config.runtime.output_dir)


def _analyze(cfg: DictConfig) -> None:
    """Analyses the run at `cfg.run_dir` (or every run of a sweep directory there) and prints a summary."""
    # Loaded here, with the figures' matplotlib: a training run never needs them.
    from simplexity.run_analysis import analyze_run, analyze_sweep, is_sweep_dir

    config = validate_analyze_config(cfg)
    options = config.options()
    run_dir = Path(config.run_dir)
    if is_sweep_dir(run_dir):
        rows = analyze_sweep(run_dir, options, progress=_show_progress)
        print(format_sweep_table(rows))
        print(f"wrote {ANALYSIS_FILE} into each of {len(rows)} runs and {SWEEP_TABLE} to {run_dir}")
        return
    report = analyze_run(run_dir, options, progress=_show_progress)
    print(format_report(report))
    files = [*report["figures"], *report["machine"].get("files", []), *report.get("extraction", {}).get("files", [])]
    print(f"wrote {ANALYSIS_FILE} and {', '.join(files)} to {report['output_dir']}")


def _show_progress(line: str) -> None:
    """Prints one line of the analysis' progress at once, also when standard output is a pipe or a file."""
    print(line, flush=True)


def train() -> None:
    """Trains a predictive model on a generative process: `simplexity-train [key=value ...]`.

    `simplexity-train --help` lists the config groups and their options; see docs/configuration.md.
    """
    register_configs()
    sys.argv[1:] = expand_override_aliases(sys.argv[1:])
    run_reporting_user_errors(_train, config_path=str(CONFIG_DIR), config_name="train")


def analyze() -> None:
    """Analyses a run's belief-state geometry: `simplexity-analyze run_dir=DIR [key=value ...]`."""
    register_configs()
    run_reporting_user_errors(_analyze, config_path=str(CONFIG_DIR), config_name="analyze")
