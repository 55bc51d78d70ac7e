"""Analyses a training run's belief-state geometry: `python run_analysis.py run_dir=<run directory> [key=value ...]`.

Writes `analysis.json` and PNG figures into the run directory (or `output_dir=`); `configs/analyze.yaml` lists
the options.
"""

import hydra
from omegaconf import DictConfig

from simplexity.analysis import analysis_options, analyze_run, format_report
from simplexity.cli import report_config_errors, run_reporting_user_errors


@hydra.main(config_path="configs", config_name="analyze", version_base=None)
@report_config_errors
def main(cfg: DictConfig) -> None:
    """Analyses the run at `cfg.run_dir` and prints a summary."""
    options = analysis_options(cfg)
    report = analyze_run(cfg.run_dir, options)
    print(format_report(report))
    print(f"wrote analysis.json and {', '.join(report['figures'])} to {report['output_dir']}")


if __name__ == "__main__":
    run_reporting_user_errors(main)
