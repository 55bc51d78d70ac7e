"""Where training metrics go."""

from simplexity.logging.metrics_logger import ConsoleLogger, JsonlLogger, MetricsLogger, read_jsonl_metrics
from simplexity.logging.mlflow_logger import MlflowLogger

__all__ = ["ConsoleLogger", "JsonlLogger", "MetricsLogger", "MlflowLogger", "read_jsonl_metrics"]
