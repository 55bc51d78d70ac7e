"""The settings of logging: which loggers receive the metrics, and where MLflow runs go (`make_loggers`)."""

from dataclasses import dataclass, field

from simplexity.errors import ConfigError

LOGGERS = ("console", "jsonl", "mlflow")


@dataclass
class MlflowSettings:
    """`logging.mlflow`: where MLflow runs go."""

    tracking_uri: str | None = None  # null: a SQLite store in the run directory (mlflow.db)
    experiment_name: str = "simplexity"


@dataclass
class LoggingSettings:
    """`logging`: which loggers receive the metrics."""

    loggers: list[str] = field(default_factory=lambda: ["console", "jsonl"])
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)

    def check(self) -> None:
        """Raises a `ConfigError` for a logger that does not exist."""
        if not set(self.loggers) <= set(LOGGERS):
            raise ConfigError.invalid(
                "logging.loggers", self.loggers, f"must be a list drawn from {', '.join(LOGGERS)}"
            )
