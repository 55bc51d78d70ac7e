"""The loggers a run directory's `logging` settings name; MLflow is imported when an MLflow logger is made."""

from pathlib import Path

import jax

from simplexity.logging.metrics_logger import ConsoleLogger, JsonlLogger, MetricsLogger
from simplexity.logging.settings import LoggingSettings
from simplexity.run_directory import METRICS_FILE


def make_loggers(settings: LoggingSettings, run_dir: Path, total_steps: int) -> list[MetricsLogger]:
    """Returns the loggers named in `settings.loggers`; only process 0 of a multi-host run logs.

    The MLflow logger continues the MLflow run that `<run_dir>/mlflow_run.json` names, if any (see `MlflowLogger`);
    without a tracking URI its store is in the run directory (`default_tracking_uri`).
    """
    if jax.process_index() != 0:
        return []
    loggers: list[MetricsLogger] = []
    for name in settings.loggers:
        if name == "console":
            loggers.append(ConsoleLogger(total_steps))
        elif name == "jsonl":
            loggers.append(JsonlLogger(run_dir / METRICS_FILE))
        elif name == "mlflow":
            from simplexity.logging.mlflow_logger import MlflowLogger, default_tracking_uri

            uri = settings.mlflow.tracking_uri or default_tracking_uri(run_dir)
            loggers.append(MlflowLogger(uri, settings.mlflow.experiment_name, run_name=run_dir.name, run_dir=run_dir))
    return loggers
