"""Logs a run to MLflow: one MLflow run per run directory, continued when the run resumes there.

The run records parameters, tags, every scalar metric, the resolved config and the run directory's config file
as artifacts, the run's provenance, and later the analysis of the run (`log_analysis_artifacts`). Without a
tracking URI a run directory keeps its own store: the SQLite database `mlflow.db` with the artifacts in
`mlartifacts/` (`default_tracking_uri`), which any MLflow client opens.
"""

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.utils.validation import (
    MAX_ENTITY_KEY_LENGTH,
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VAL_LENGTH,
)

from simplexity.errors import one_line
from simplexity.logging.flat_config import flatten_config
from simplexity.logging.tracking_outage import TrackingOutage
from simplexity.logging.tracking_uri import database_path, file_store_path, server_answer
from simplexity.run_directory import MLFLOW_RUN_FILE, config_paths

# The run directory's own store: a SQLite database, and the directory of the artifacts of its runs.
DATABASE_FILE = "mlflow.db"
ARTIFACTS_DIR = "mlartifacts"
# A run directory's file store (a directory of runs): a run directory that holds one, and whose `mlflow_run.json`
# names a file store, keeps logging to it rather than to a database (`default_tracking_uri`).
FILE_STORE_DIR = "mlruns"
# Provenance keys whose values are known only when the start ends: never parameters (those cannot change).
END_KEYS = ("ended_at", "end_step", "exit_status")
# The key of `mlflow_run.json` that says the MLflow run was left unfinished: the server did not answer at the end.
UNFINISHED = "unfinished"
ANALYSIS_ARTIFACTS = "analysis"
# MLflow 3 keeps the file store (a directory of runs) in maintenance mode behind this switch; a run directory
# that holds a file store, or a file: tracking URI, logs to one.
_ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"
# MLflow's client retries a failed request 7 times with exponential backoff and waits up to 120 s for each
# answer: minutes of a stalled run when the server goes away. These defaults give up after about a minute at most;
# a value the user set in the environment wins.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


def default_tracking_uri(run_dir: str | Path) -> str:
    """Returns the tracking URI of a run directory without one configured: `sqlite:///<run_dir>/mlflow.db`.

    A run directory whose `mlflow_run.json` names a file store and that has the file store `mlruns/` keeps
    logging to that file store, so that a resume continues its MLflow run there.
    """
    run_dir = Path(run_dir).absolute()
    record = read_run_record(run_dir)
    file_store = run_dir / FILE_STORE_DIR
    if record is not None and file_store_path(record["tracking_uri"]) is not None and file_store.is_dir():
        return file_store.as_uri()
    return f"sqlite:///{run_dir / DATABASE_FILE}"


def artifact_location(tracking_uri: str) -> str | None:
    """Returns where a new experiment of a SQLite store keeps its artifacts: `mlartifacts/` beside the database.

    None (the store's default) for any other store. A SQL store's default artifact root is `./mlruns`, relative to
    the working directory of whichever process creates the experiment.
    """
    database = database_path(tracking_uri)
    return None if database is None else (database.absolute().parent / ARTIFACTS_DIR).as_uri()


def mlflow_client(tracking_uri: str) -> MlflowClient:
    """Returns a client of `tracking_uri`, with `HTTP_DEFAULTS` set and a local store's directory created."""
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    path = file_store_path(tracking_uri)
    if path is not None:
        os.environ.setdefault(_ALLOW_FILE_STORE, "true")
        path.mkdir(parents=True, exist_ok=True)
    database = database_path(tracking_uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    if tracking_uri.startswith(("http://", "https://")):
        # A server that proxies artifacts hands out `mlflow-artifacts:` URIs, which MLflow 2.x resolves against
        # the process's tracking URI rather than the client's: point it at the same server.
        mlflow.set_tracking_uri(tracking_uri)
    if database is None:
        return MlflowClient(tracking_uri=tracking_uri)
    # The client opens the store, and MLflow creates a new database's tables (its alembic migrations), which
    # logs dozens of INFO lines on stderr (MLflow 2.x) or two (MLflow 3); warnings and errors still show.
    level = logging.root.manager.disable
    logging.disable(logging.INFO)
    try:
        return MlflowClient(tracking_uri=tracking_uri)
    finally:
        logging.disable(level)


def read_run_record(run_dir: str | Path) -> dict[str, str] | None:
    """Returns `{"tracking_uri", "experiment_id", "run_id"}` from the run directory's `mlflow_run.json`, or None.

    None as well when the file is not such a record.
    """
    path = Path(run_dir) / MLFLOW_RUN_FILE
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    keys = ("tracking_uri", "experiment_id", "run_id")
    if not isinstance(record, dict) or not all(isinstance(record.get(key), str) for key in keys):
        return None
    return {key: record[key] for key in keys}


class MlflowLogger:
    """An MLflow run in the experiment `experiment_name` at `tracking_uri`: one run per run directory.

    Given `run_dir`, the logger writes `<run_dir>/mlflow_run.json` (`tracking_uri`, `experiment_id`, `run_id`) when
    it creates the run; when that file names the same tracking URI and its run still exists, the logger reopens
    that run (its status back to RUNNING, in its own experiment) instead. MLflow parameters cannot change, so a
    resumed run logs only the config keys it has not logged yet as parameters, and each changed value as the tag
    `resumed.<key>` (the value of the latest start). The provenance of every start is kept: as tags
    `provenance.<key>` (the latest start), as parameters of the first start (without the values known only at
    its end, `END_KEYS`, and without null values), and as the artifact `provenance/<started_at>.json`.

    A tracking store that stops answering mid-run never stops training: one warning line on stderr, the calls
    are held (the newest `HELD_VALUES_LIMIT` metric values) and made when the store answers again, asked at most
    every `RETRY_SECONDS` with a short timeout (`TrackingOutage`). At the end the run is marked FINISHED or FAILED
    if the store answers by then; otherwise `mlflow_run.json` records under `unfinished` the status it should have
    had, since which step calls were lost, and why, and the MLflow run stays RUNNING until a resume reopens it.

    Arguments:
        tracking_uri: where runs are stored, e.g. `sqlite:///.../mlflow.db` or `http://host:5000`.
        experiment_name: the MLflow experiment of a new run, created when missing (in a SQLite store with its
            artifacts beside the database, `artifact_location`).
        run_name: the MLflow run's name.
        run_dir: the run directory whose MLflow run this is; None: a new run, recorded nowhere.
    """

    def __init__(
        self,
        tracking_uri: str,
        experiment_name: str,
        run_name: str | None = None,
        run_dir: str | Path | None = None,
    ):
        self._client = mlflow_client(tracking_uri)
        self.tracking_uri = tracking_uri
        self._outage = TrackingOutage(tracking_uri, (MlflowException, OSError))
        self.run_dir = None if run_dir is None else Path(run_dir)
        self._params: dict[str, str] = {}  # the run's parameters, as MLflow holds them
        record = None if self.run_dir is None else read_run_record(self.run_dir)
        if record is not None and record["tracking_uri"] == tracking_uri and self._reopen(record["run_id"]):
            self.run_id, self.resumed = record["run_id"], True
            self._params = dict(self._client.get_run(self.run_id).data.params)
            self._write_run_record(record)  # reopened: no longer unfinished
            return
        experiment = self._client.get_experiment_by_name(experiment_name)
        experiment_id = (
            experiment.experiment_id
            if experiment
            else self._client.create_experiment(experiment_name, artifact_location=artifact_location(tracking_uri))
        )
        self.run_id, self.resumed = self._client.create_run(experiment_id, run_name=run_name).info.run_id, False
        self._write_run_record({"tracking_uri": tracking_uri, "experiment_id": experiment_id, "run_id": self.run_id})

    def _write_run_record(self, record: dict[str, Any]) -> None:
        if self.run_dir is not None:
            (self.run_dir / MLFLOW_RUN_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    def _send(self, call: Callable[[], object], values: int = 1, step: int | None = None) -> None:
        """Makes `call` to the tracking store now, or holds it while the store does not answer (`TrackingOutage`)."""
        if self._outage.active and not self._outage.retry():
            self._outage.hold(call, values)
            return
        try:
            call()
        except (MlflowException, OSError) as error:
            self._outage.begin(error, step)
            self._outage.hold(call, values)

    def _reopen(self, run_id: str) -> bool:
        """Sets the run `run_id` back to RUNNING and returns True, or returns False when it is gone or deleted."""
        try:
            run = self._client.get_run(run_id)
        except MlflowException as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise
        if run.info.lifecycle_stage == "deleted":
            return False
        self._client.update_run(run_id, status="RUNNING")
        return True

    def log_config(self, config: dict[str, Any]) -> None:
        """Logs the config's leaves as parameters (dotted names) and the config as artifacts.

        The artifacts are `config.json` (the latest start's) and the run directory's newest `config*.yaml`. On a
        resumed run, a leaf whose value changed becomes the tag `resumed.<key>`.
        """
        self._send(lambda: self._log_config(config))

    def _log_config(self, config: dict[str, Any]) -> None:
        changed = self._log_params({name: str(value) for name, value in flatten_config(config).items()})
        self._log_tags({f"resumed.{name}": value for name, value in changed.items()})
        self._client.log_dict(self.run_id, config, "config.json")
        configs = [] if self.run_dir is None else config_paths(self.run_dir)
        if configs:
            self.log_artifacts([configs[-1]])

    def log_artifacts(self, paths: Sequence[Path], artifact_path: str | None = None) -> None:
        """Logs each of `paths` that is a file as an artifact, at the root or under `artifact_path`."""
        for path in paths:
            if Path(path).is_file():
                self._send(lambda path=path: self._client.log_artifact(self.run_id, str(path), artifact_path))

    def log_provenance(self, record: dict[str, Any]) -> None:
        """Logs where and from what this start of the run came, as tags, parameters of a new run, and an artifact.

        Every key becomes the tag `provenance.<key>` (nested keys joined with dots, values as text, cut to MLflow's
        limits); a null value of one of `END_KEYS` (a start not ended yet) removes that tag, left by an earlier
        start, instead. On a new run the keys with a value, but for `END_KEYS`, become parameters as well: a
        parameter cannot change later. The record itself is the artifact
        `provenance/<started_at>.json` (`:` as `-`), or `provenance/<N>.json` without `started_at`, N the number of
        starts recorded before.
        """
        record = json.loads(json.dumps(record, default=str))  # as it is now: a held call may be made later
        self._send(lambda: self._log_provenance(record))

    def _log_provenance(self, record: dict[str, Any]) -> None:
        values = flatten_config(record)
        pending = {f"provenance.{name}" for name in END_KEYS if name in values and values[name] is None}
        tags = {f"provenance.{name}": _text(value) for name, value in values.items()}
        self._log_tags({key: value for key, value in tags.items() if key not in pending})
        if self.resumed and pending:
            logged = self._client.get_run(self.run_id).data.tags
            for key in sorted(pending & logged.keys()):
                self._client.delete_tag(self.run_id, key)
        if not self.resumed:
            self._log_params(
                {
                    f"provenance.{name}": _text(value)
                    for name, value in values.items()
                    if value is not None and name not in END_KEYS
                }
            )
        name = record.get("started_at") or len(self._client.list_artifacts(self.run_id, "provenance"))
        self._client.log_dict(self.run_id, record, f"provenance/{_file_name(str(name))}.json")

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Logs the scalar metrics of `step` (per-position lists stay in metrics.jsonl)."""
        timestamp = int(time.time() * 1000)
        scalars = [
            Metric(name, float(value), timestamp, step)
            for name, value in metrics.items()
            if isinstance(value, int | float)
        ]
        self._send(lambda: self._client.log_batch(self.run_id, metrics=scalars), len(scalars), step)

    def close(self, failed: bool = False) -> None:
        """Marks the run FINISHED, or FAILED when the run ended in an error.

        Held calls are tried once more first. When the store still does not answer, the run stays RUNNING and
        `mlflow_run.json` records it as unfinished (see the class).
        """
        status = "FAILED" if failed else "FINISHED"
        if self._outage.retry(force=True):
            self._send(lambda: self._client.set_terminated(self.run_id, status))
        if not self._outage.active:
            return
        known = read_run_record(self.run_dir) if self.run_dir is not None else None
        if known is not None:
            record: dict[str, Any] = dict(known)
            since = self._outage.since_step
            record[UNFINISHED] = {"status": status, "since_step": since, "reason": self._outage.reason}
            self._write_run_record(record)
        print(f"MLflow run {self.run_id} at {self.tracking_uri} left RUNNING: {self._outage.reason}")

    def _log_params(self, values: dict[str, str]) -> dict[str, str]:
        """Logs the values not logged yet as parameters and returns those that differ from the logged ones."""
        values = {_key(name): value[:MAX_PARAM_VAL_LENGTH] for name, value in values.items()}
        new = [Param(name, value) for name, value in values.items() if name not in self._params]
        for start in range(0, len(new), MAX_PARAMS_TAGS_PER_BATCH):
            self._client.log_batch(self.run_id, params=new[start : start + MAX_PARAMS_TAGS_PER_BATCH])
        changed = {name: value for name, value in values.items() if self._params.get(name, value) != value}
        self._params.update((param.key, param.value) for param in new)
        return changed

    def _log_tags(self, values: dict[str, str]) -> None:
        """Sets the tags `values` (a tag's value may change)."""
        tags = [RunTag(_key(name), value[:MAX_TAG_VAL_LENGTH]) for name, value in values.items()]
        for start in range(0, len(tags), MAX_PARAMS_TAGS_PER_BATCH):
            self._client.log_batch(self.run_id, tags=tags[start : start + MAX_PARAMS_TAGS_PER_BATCH])


def log_analysis_artifacts(run_dir: str | Path, paths: Sequence[Path], artifact_path: str = ANALYSIS_ARTIFACTS) -> bool:
    """Logs the files among `paths` under `artifact_path` of the MLflow run that `<run_dir>/mlflow_run.json` names.

    The run's status stays as it is. Returns whether they were logged: False without `mlflow_run.json`, and
    False after one warning line on stderr when the tracking server does not answer or MLflow fails.
    """
    record = read_run_record(run_dir)
    if record is None:
        return False
    uri, run_id = record["tracking_uri"], record["run_id"]
    try:
        reason = server_answer(uri) if uri.startswith(("http://", "https://")) else None
        if reason is not None:
            raise ConnectionError(reason)
        client = mlflow_client(uri)
        for path in paths:
            if Path(path).is_file():
                client.log_artifact(run_id, str(path), artifact_path)
    except (MlflowException, OSError) as error:
        print(f"warning: not logged to MLflow run {run_id} at {uri}: {one_line(error)}", file=sys.stderr)
        return False
    return True


def _key(name: str) -> str:
    """Returns `name` as an MLflow key: characters MLflow refuses become `_`, cut to MLflow's length limit."""
    return re.sub(r"[^\w\-. /]", "_", name)[:MAX_ENTITY_KEY_LENGTH]


def _file_name(text: str) -> str:
    """Returns `text` with every character but letters, digits and `_.+-` replaced by `-` (`13:00` -> `13-00`)."""
    return re.sub(r"[^\w.+-]", "-", text)


def _text(value: Any) -> str:
    """Returns a string as it is and anything else as JSON (`false`, `["cpu:0"]`), for a tag or parameter."""
    return value if isinstance(value, str) else json.dumps(value, default=str)
