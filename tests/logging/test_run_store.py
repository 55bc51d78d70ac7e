"""The MLflow store of a run directory without a tracking URI, read back as any MLflow client reads it."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from simplexity.logging import LoggingSettings, MlflowLogger, log_analysis_artifacts, read_run_record
from simplexity.logging.mlflow_logger import END_KEYS, default_tracking_uri
from simplexity.logging.run_loggers import make_loggers
from tests.command_line import run_experiment

pytestmark = pytest.mark.stack  # MLflow: run on the plain-install stack and on the extras' stack

# A plain MLflow client in a fresh process: no switch that simplexity sets for its own process.
READ_BACK = """
import json, sys
from mlflow.tracking import MlflowClient

record = json.load(open(sys.argv[1]))
client = MlflowClient(tracking_uri=record["tracking_uri"])
run = client.get_run(record["run_id"])
print(json.dumps({
    "status": run.info.status,
    "artifact_uri": run.info.artifact_uri,
    "params": run.data.params,
    "tags": run.data.tags,
    "metrics": sorted(run.data.metrics),
    "artifacts": sorted(info.path for info in client.list_artifacts(run.info.run_id)),
    "experiment": client.get_experiment(run.info.experiment_id).name,
}))
"""


def read_back(run_dir: Path, cwd: Path) -> dict[str, Any]:
    """Returns the MLflow run that `run_dir/mlflow_run.json` names, read by `MlflowClient` in a new process."""
    env = {name: value for name, value in os.environ.items() if name != "MLFLOW_ALLOW_FILE_STORE"}
    result = subprocess.run(
        [sys.executable, "-c", READ_BACK, str(run_dir / "mlflow_run.json")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, str]:
    """A tiny run with `logging=mlflow` and no tracking URI: its run directory, and what it printed."""
    run_dir = tmp_path_factory.mktemp("run")
    result = run_experiment("training=tiny", "logging=mlflow", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir, result.stdout + result.stderr


@pytest.fixture
def finished_run(finished) -> Path:
    return finished[0]


@pytest.mark.slow
def test_creating_the_store_prints_nothing_of_its_migrations(finished):
    output = finished[1]
    assert "alembic" not in output and "database tables" not in output


@pytest.mark.slow
def test_a_finished_run_is_read_back_by_a_plain_mlflow_client(finished_run, tmp_path):
    record = read_run_record(finished_run)
    assert record is not None and record["tracking_uri"] == f"sqlite:///{finished_run / 'mlflow.db'}"
    run = read_back(finished_run, cwd=tmp_path)
    assert run["status"] == "FINISHED" and run["experiment"] == "simplexity"
    assert "loss" in run["metrics"]
    assert {"config.json", "config.yaml", "provenance"} <= set(run["artifacts"])
    assert run["artifact_uri"].startswith((finished_run / "mlartifacts").as_uri() + "/")
    assert (finished_run / "mlflow.db").is_file() and (finished_run / "mlartifacts").is_dir()
    assert not (finished_run / "mlruns").exists()
    # MLflow's SQL store makes its default artifact root `./mlruns` where a client runs; it stays empty.
    assert [path for path in tmp_path.rglob("*") if path.is_file()] == []


@pytest.mark.slow
def test_the_params_of_a_finished_run_have_no_null_provenance_and_the_tags_its_end(finished_run, tmp_path):
    run = read_back(finished_run, cwd=tmp_path)
    provenance = {key: value for key, value in run["params"].items() if key.startswith("provenance.")}
    assert provenance and "provenance.git_commit" in provenance
    assert [key for key, value in provenance.items() if value in {"null", "None", ""}] == []
    assert not {f"provenance.{name}" for name in END_KEYS} & provenance.keys()
    (last,) = json.loads((finished_run / "provenance.json").read_text())
    assert last["exit_status"] == 0 and last["end_step"] > 0 and last["ended_at"]
    assert run["tags"]["provenance.exit_status"] == "0"
    assert run["tags"]["provenance.end_step"] == str(last["end_step"])
    assert run["tags"]["provenance.ended_at"] == last["ended_at"]


def test_a_resume_into_a_run_directory_with_a_file_store_continues_there(tmp_path):
    old_uri = (tmp_path / "mlruns").as_uri()  # the store a run directory had before it had a database
    first = MlflowLogger(old_uri, "simplexity", run_name=tmp_path.name, run_dir=tmp_path)
    first.log(2, {"loss": 1.0})
    first.close()
    assert default_tracking_uri(tmp_path) == old_uri
    (resumed,) = make_loggers(LoggingSettings(loggers=["mlflow"]), tmp_path, total_steps=4)
    assert isinstance(resumed, MlflowLogger)
    assert resumed.resumed and resumed.run_id == first.run_id and resumed.tracking_uri == old_uri
    resumed.log(4, {"loss": 0.5})
    resumed.close()
    record = read_run_record(tmp_path)
    assert record is not None and record["tracking_uri"] == old_uri and record["run_id"] == first.run_id
    assert not (tmp_path / "mlflow.db").exists()
    client = MlflowClient(tracking_uri=old_uri)  # a file store: opened in this process, which allows it
    assert client.get_run(first.run_id).info.status == "FINISHED"
    history = client.get_metric_history(first.run_id, "loss")
    assert [(metric.step, metric.value) for metric in history] == [(2, 1.0), (4, 0.5)]


def test_a_new_run_directory_gets_a_sqlite_store(tmp_path):
    assert default_tracking_uri(tmp_path) == f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.mark.slow
def test_the_analysis_is_logged_into_the_run_directory_store(finished_run, tmp_path):
    (tmp_path / "analysis.json").write_text("{}")
    assert log_analysis_artifacts(finished_run, [tmp_path / "analysis.json"])
    run = read_back(finished_run, cwd=tmp_path)
    assert "analysis" in run["artifacts"] and run["status"] == "FINISHED"
    assert list((finished_run / "mlartifacts").rglob("analysis/analysis.json"))
