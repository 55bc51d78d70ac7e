"""Where training metrics go."""

from simplexity.logging.flat_config import flatten_config
from simplexity.logging.metrics_logger import ConsoleLogger, JsonlLogger, MetricsLogger, read_jsonl_metrics
from simplexity.logging.mlflow_logger import MlflowLogger, log_analysis_artifacts, read_run_record
from simplexity.logging.run_loggers import make_loggers
from simplexity.logging.settings import LoggingSettings, MlflowSettings
from simplexity.logging.tracking_uri import check_tracking_uri

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
