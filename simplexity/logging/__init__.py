"""Where training metrics go.

The names of `simplexity.logging.mlflow_logger` are imported on first use, so that importing this package does not
load MLflow.
"""

from typing import TYPE_CHECKING, Any

from simplexity.logging.flat_config import flatten_config
from simplexity.logging.metrics_logger import ConsoleLogger, JsonlLogger, MetricsLogger, read_jsonl_metrics
from simplexity.logging.run_loggers import make_loggers
from simplexity.logging.settings import LoggingSettings, MlflowSettings
from simplexity.logging.tracking_uri import check_tracking_uri

if TYPE_CHECKING:
    from simplexity.logging.mlflow_logger import MlflowLogger, log_analysis_artifacts, read_run_record

_MLFLOW_LOGGER_NAMES = ("MlflowLogger", "log_analysis_artifacts", "read_run_record")

__all__ = [
    "ConsoleLogger",
    "JsonlLogger",
    "LoggingSettings",
    "MetricsLogger",
    "MlflowLogger",
    "MlflowSettings",
    "check_tracking_uri",
    "flatten_config",
    "log_analysis_artifacts",
    "make_loggers",
    "read_jsonl_metrics",
    "read_run_record",
]


def __getattr__(name: str) -> Any:
    """Returns a name of `simplexity.logging.mlflow_logger`, importing it (and MLflow) the first time."""
    if name in _MLFLOW_LOGGER_NAMES:
        from simplexity.logging import mlflow_logger

        return getattr(mlflow_logger, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
