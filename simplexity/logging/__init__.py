"""Where training metrics go."""

from simplexity.logging.metrics_logger import ConsoleLogger, JsonlLogger, MetricsLogger
from simplexity.logging.mlflow_logger import MlflowLogger

__all__ = ["ConsoleLogger", "JsonlLogger", "MetricsLogger", "MlflowLogger"]
