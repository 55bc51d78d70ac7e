"""MLflow logging end to end against a real tracking server (`mlflow server`), and the tracking URI check."""

import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from simplexity.logging.mlflow_logger import mlflow_client
from tests.command_line import run_script

MLFLOW = Path(sys.executable).parent / "mlflow"


def has_distribution(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


TINY = ("training=tiny", "training.num_steps=20", "training.log_every=10", "training.checkpoint_every=10")
pytestmark = [pytest.mark.slow, pytest.mark.extras]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> Iterator[str]:
    """A tracking server on a free local port, with a SQLite store and proxied artifacts in a temporary directory."""
    if not has_distribution("mlflow"):  # mlflow-skinny, which a plain install gets, has no server
        pytest.skip("`mlflow server` needs the tracking extra: pip install -e '.[tracking]'")
    root = tmp_path_factory.mktemp("mlflow_server")
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    port = free_port()
    command = [
        str(MLFLOW),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
    ]
    with (root / "server.log").open("w") as log:
        server = subprocess.Popen(
            command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not answers(f"{uri}/health"):
            assert server.poll() is None, (root / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the tracking server did not answer /health within 120 s"
            time.sleep(0.2)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the workers it started, in its own session
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    """Returns the paths of every artifact file of the run, under `path`."""
    paths = set()
    for info in client.list_artifacts(run_id, path):
        paths.update(artifact_paths(client, run_id, info.path) if info.is_dir else {info.path})
    return paths


@dataclass(frozen=True)
class Recorded:
    """What the tracking server holds of the run at one moment."""

    run_id: str
    status: str
    loss_steps: list[int]
    params: dict[str, str]
    tags: dict[str, str]
    artifacts: set[str]
    runs_in_experiment: int


def recorded(tracking_uri: str, run_dir: Path) -> Recorded:
    record = json.loads((run_dir / "mlflow_run.json").read_text())
    assert record["tracking_uri"] == tracking_uri
    client = mlflow_client(tracking_uri)  # as the logger makes it: artifact URIs resolve against the server
    run = client.get_run(record["run_id"])
    return Recorded(
        run_id=run.info.run_id,
        status=run.info.status,
        loss_steps=[metric.step for metric in client.get_metric_history(run.info.run_id, "loss")],
        params=run.data.params,
        tags=run.data.tags,
        artifacts=artifact_paths(client, run.info.run_id),
        runs_in_experiment=len(client.search_runs([record["experiment_id"]])),
    )


@dataclass(frozen=True)
class TrackedRun:
    """The server's record of a run after it trained to step 20, resumed to step 40, and was analysed."""

    trained: Recorded
    resumed: Recorded
    analysed: Recorded
    analysis_stderr: str


@pytest.fixture(scope="module")
def tracked_run(tracking_uri, tmp_path_factory) -> TrackedRun:
    run_dir = tmp_path_factory.mktemp("run")
    logging = ("logging=mlflow", f"logging.mlflow.tracking_uri={tracking_uri}", f"hydra.run.dir={run_dir}")
    first = run_script("run_experiment.py", *TINY, *logging)
    assert first.returncode == 0, first.stderr
    trained = recorded(tracking_uri, run_dir)
    again = run_script(
        "run_experiment.py", *TINY, "predictive_model.load_checkpoint_step=latest", "training.num_steps=40", *logging
    )
    assert again.returncode == 0, again.stderr
    resumed = recorded(tracking_uri, run_dir)
    analysis = run_script("run_analysis.py", f"run_dir={run_dir}", "max_context_len=4")
    assert analysis.returncode == 0, analysis.stderr
    return TrackedRun(trained, resumed, recorded(tracking_uri, run_dir), analysis.stderr)


def test_a_run_is_recorded_finished_with_its_metrics_params_and_config(tracked_run):
    trained = tracked_run.trained
    assert trained.status == "FINISHED"
    assert trained.loss_steps == [0, 10, 20]  # the initial loss, then every logged step
    assert trained.params["training.batch_size"] == "4"
    assert trained.params["predictive_model.load_checkpoint_step"] == "None"
    assert {"config.yaml", "config.json"} <= trained.artifacts
    # Provenance: tags of the latest start, parameters of the first, and one artifact per start.
    assert trained.tags["provenance.packages.jax"] == importlib.metadata.version("jax")
    assert trained.params["provenance.start_step"] == "0"
    assert trained.tags["provenance.exit_status"] == "0"
    assert any(path.startswith("provenance/") for path in trained.artifacts)


def test_a_resumed_run_continues_the_same_mlflow_run(tracked_run):
    resumed = tracked_run.resumed
    assert resumed.run_id == tracked_run.trained.run_id
    assert resumed.runs_in_experiment == 1
    assert resumed.status == "FINISHED"
    assert resumed.loss_steps == [0, 10, 20, 30, 40]
    assert resumed.params["training.num_steps"] == "20"  # a parameter keeps its first value
    assert resumed.tags["resumed.training.num_steps"] == "40"
    assert resumed.tags["resumed.predictive_model.load_checkpoint_step"] == "latest"
    assert {"config.yaml", "config.1.yaml"} <= resumed.artifacts


def test_the_analysis_is_logged_into_the_run_and_leaves_its_status(tracked_run):
    analysed = tracked_run.analysed
    assert analysed.run_id == tracked_run.trained.run_id
    assert {"analysis/analysis.json", "analysis/belief_geometry.png", "analysis/position_loss.png"} <= (
        analysed.artifacts
    )
    assert "analysis/training_curve.png" in analysed.artifacts
    assert analysed.status == "FINISHED"
    assert "warning" not in tracked_run.analysis_stderr


@pytest.mark.parametrize("uri", ["ftp://127.0.0.1:1/x", "http://127.0.0.1:1"])
def test_an_unusable_tracking_uri_exits_in_one_line_before_anything_is_written(uri, tmp_path):
    result = run_script(
        "run_experiment.py",
        *TINY,
        "logging=mlflow",
        f"logging.mlflow.tracking_uri={uri}",
        f"hydra.run.dir={tmp_path}",
        timeout=120,  # far less than MLflow's own retries against a server that is not there
        # `tmp_path` was made less than a second before a forked command would start, so early that the command
        # would count it as its own (file clocks are coarse) and remove it; a user's command starts later.
        new_interpreter=True,
    )
    assert result.returncode == 6, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: logging.mlflow.tracking_uri={uri!r}: ")
    assert "Traceback" not in result.stderr + result.stdout
    written = {path.name for path in tmp_path.iterdir()}
    assert not written & {"config.yaml", "metrics.jsonl", "mlflow_run.json", "checkpoints", ".lock"}


def test_a_run_that_raises_is_recorded_failed(tracking_uri, tmp_path):
    result = run_script(
        "run_experiment.py",
        *TINY,
        "predictive_model=transformer",
        "training/optimizer=sgd",
        "training.optimizer.instance.learning_rate=1e6",  # the loss becomes non-finite within a few steps
        "logging=mlflow",
        f"logging.mlflow.tracking_uri={tracking_uri}",
        f"hydra.run.dir={tmp_path}",
    )
    assert result.returncode == 3, result.stderr
    assert recorded(tracking_uri, tmp_path).status == "FAILED"
