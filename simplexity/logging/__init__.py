"""Where training metrics go."""

from simplexity.logging.metrics_logger import ConsoleLogger, JsonlLogger, MetricsLogger

__all__ = ["ConsoleLogger", "JsonlLogger", "MetricsLogger"]
