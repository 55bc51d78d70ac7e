"""Where training metrics go."""

from simplexity.logging.flat_config import flatten_config
from simplexity.logging.metrics_logger import ConsoleLogger, JsonlLogger, MetricsLogger, read_jsonl_metrics
from simplexity.logging.mlflow_logger import MlflowLogger
from simplexity.logging.run_loggers import make_loggers

__all__ = [
    "ConsoleLogger",
    "JsonlLogger",
    "MetricsLogger",
    "MlflowLogger",
    "flatten_config",
    "make_loggers",
    "read_jsonl_metrics",
]
