"""Logs a run to MLflow: parameters, the resolved config as an artifact, and every scalar metric."""

import os
import time
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param
from mlflow.tracking import MlflowClient

from simplexity.logging.flat_config import flatten_config

# MLflow 3 keeps the file store (a directory of runs) in maintenance mode behind this switch; it is the
# simplest store that needs no server or database, which is what a run directory wants.
_ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"


class MlflowLogger:
    """An MLflow run in the experiment `experiment_name` at `tracking_uri`.

    Arguments:
        tracking_uri: where runs are stored, e.g. `file:///.../mlruns` or `http://host:5000`.
        experiment_name: the MLflow experiment, created when missing.
        run_name: the MLflow run's name.
    """

    def __init__(self, tracking_uri: str, experiment_name: str, run_name: str | None = None):
        if tracking_uri.startswith("file:") or "://" not in tracking_uri:
            os.environ.setdefault(_ALLOW_FILE_STORE, "true")
            Path(tracking_uri.removeprefix("file://").removeprefix("file:")).mkdir(parents=True, exist_ok=True)
        self._client = MlflowClient(tracking_uri=tracking_uri)
        experiment = self._client.get_experiment_by_name(experiment_name)
        experiment_id = experiment.experiment_id if experiment else self._client.create_experiment(experiment_name)
        self.run_id = self._client.create_run(experiment_id, run_name=run_name).info.run_id

    def log_config(self, config: dict[str, Any]) -> None:
        """Logs every config leaf as a parameter (dotted name) and the whole config as `config.json`."""
        params = [Param(name, str(value)[:500]) for name, value in flatten_config(config).items()]
        for start in range(0, len(params), 100):  # MLflow accepts at most 100 parameters per batch
            self._client.log_batch(self.run_id, params=params[start : start + 100])
        self._client.log_dict(self.run_id, config, "config.json")

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Logs the scalar metrics of `step` (per-position lists stay in metrics.jsonl)."""
        timestamp = int(time.time() * 1000)
        scalars = [
            Metric(name, float(value), timestamp, step)
            for name, value in metrics.items()
            if isinstance(value, int | float)
        ]
        self._client.log_batch(self.run_id, metrics=scalars)

    def close(self) -> None:
        """Marks the run finished."""
        self._client.set_terminated(self.run_id)
