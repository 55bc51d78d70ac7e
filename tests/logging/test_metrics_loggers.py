import io
import json
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from simplexity.logging import (
    ConsoleLogger,
    JsonlLogger,
    MlflowLogger,
    log_analysis_artifacts,
    read_jsonl_metrics,
    read_run_record,
)

pytestmark = pytest.mark.stack  # MLflow and pandas: run on the plain-install stack and on the extras' stack


def test_jsonl_appends_one_object_per_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    for _ in range(2):  # a resumed run appends to the same file
        logger = JsonlLogger(path)
        logger.log(3, {"loss": 1.5, "validation/loss_per_position": [1.0, 2.0]})
        logger.close()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records == [{"step": 3, "loss": 1.5, "validation/loss_per_position": [1.0, 2.0]}] * 2


def test_console_prints_progress_loss_rate_and_eta():
    stream = io.StringIO()
    ConsoleLogger(total_steps=100, stream=stream).log(25, {"loss": 1.25, "steps_per_second": 5.0, "grad_norm": 0.5})
    line = stream.getvalue()
    assert "25%" in line and "step 25/100" in line and "loss=1.25000" in line
    assert "5.0 steps/s" in line and "ETA 0:00:15" in line and "grad_norm=0.5" in line


def test_mlflow_records_config_and_scalar_metrics_in_a_local_store(tmp_path):
    uri = (tmp_path / "mlruns").as_uri()
    logger = MlflowLogger(uri, "tests", run_name="run")
    logger.log_config({"training": {"batch_size": 4}, "seed": 0})
    logger.log(2, {"loss": 1.5, "validation/loss_per_position": [1.0]})
    logger.close()
    run = MlflowClient(tracking_uri=uri).get_run(logger.run_id)
    assert run.data.params["training.batch_size"] == "4"
    assert run.data.metrics == {"loss": 1.5}
    assert run.info.status == "FINISHED"


def test_reading_keeps_one_record_per_step_the_last_written_by_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    first = JsonlLogger(path)
    for step in (10, 20):
        first.log(step, {"loss": float(step)})
    first.close()
    resumed = JsonlLogger(path)  # resumed from the checkpoint of step 10, logging every 5 steps: 20 again
    for step in (15, 20, 25):
        resumed.log(step, {"loss": -float(step)})
    resumed.close()
    with path.open("a") as file:
        file.write('{"step": 30, "loss": 0.')  # a line a crash left unfinished
    steps_and_losses = [(record["step"], record["loss"]) for record in read_jsonl_metrics(path)]
    assert steps_and_losses == [(10, 10.0), (15, -15.0), (20, -20.0), (25, -25.0)]


def artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    """Returns the paths of every artifact file of the run, under `path`."""
    paths = set()
    for info in client.list_artifacts(run_id, path):
        paths.update(artifact_paths(client, run_id, info.path) if info.is_dir else {info.path})
    return paths


def test_the_console_and_jsonl_loggers_take_artifacts_and_provenance_and_write_nothing(tmp_path, capsys):
    jsonl = JsonlLogger(tmp_path / "metrics.jsonl")
    for logger in (ConsoleLogger(total_steps=10), jsonl):
        logger.log_artifacts([tmp_path / "metrics.jsonl"])
        logger.log_provenance({"git_commit": "abc"})
        logger.close(failed=True)
    assert capsys.readouterr().out == ""
    assert (tmp_path / "metrics.jsonl").read_text() == ""


def start_mlflow_logger(run_dir: Path, uri: str | None = None) -> MlflowLogger:
    return MlflowLogger(uri or (run_dir / "mlruns").as_uri(), "tests", run_name=run_dir.name, run_dir=run_dir)


def test_mlflow_records_its_run_in_the_run_directory(tmp_path):
    logger = start_mlflow_logger(tmp_path)
    logger.close()
    assert read_run_record(tmp_path) == {
        "tracking_uri": (tmp_path / "mlruns").as_uri(),
        "experiment_id": MlflowClient((tmp_path / "mlruns").as_uri()).get_run(logger.run_id).info.experiment_id,
        "run_id": logger.run_id,
    }
    assert not logger.resumed


def test_mlflow_continues_the_run_of_its_run_directory_and_tags_changed_config_values(tmp_path):
    first = start_mlflow_logger(tmp_path)
    first.log_config({"predictive_model": {"load_checkpoint_step": None}, "seed": 0})
    first.log(10, {"loss": 1.0})
    first.close()
    resumed = start_mlflow_logger(tmp_path)
    client = MlflowClient((tmp_path / "mlruns").as_uri())
    assert resumed.resumed and resumed.run_id == first.run_id
    assert client.get_run(first.run_id).info.status == "RUNNING"
    resumed.log_config({"predictive_model": {"load_checkpoint_step": "latest"}, "seed": 0, "new_key": 1})
    resumed.log(20, {"loss": 0.5})
    resumed.close()
    run = client.get_run(first.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params == {"predictive_model.load_checkpoint_step": "None", "seed": "0", "new_key": "1"}
    assert run.data.tags["resumed.predictive_model.load_checkpoint_step"] == "latest"
    assert "resumed.seed" not in run.data.tags
    assert [(metric.step, metric.value) for metric in client.get_metric_history(first.run_id, "loss")] == [
        (10, 1.0),
        (20, 0.5),
    ]
    assert len(client.search_runs([run.info.experiment_id])) == 1


def test_mlflow_starts_a_new_run_when_the_tracking_uri_differs(tmp_path):
    first = start_mlflow_logger(tmp_path)
    first.close()
    other = start_mlflow_logger(tmp_path, (tmp_path / "other").as_uri())
    other.close()
    assert not other.resumed and other.run_id != first.run_id
    record = read_run_record(tmp_path)
    assert record is not None and record["run_id"] == other.run_id


def test_mlflow_marks_a_failed_run_failed(tmp_path):
    logger = start_mlflow_logger(tmp_path)
    logger.close(failed=True)
    assert MlflowClient((tmp_path / "mlruns").as_uri()).get_run(logger.run_id).info.status == "FAILED"


def test_mlflow_logs_the_config_and_the_newest_config_file_as_artifacts(tmp_path):
    (tmp_path / "config.yaml").write_text("seed: 0\n")
    (tmp_path / "config.1.yaml").write_text("seed: 0\n")
    (tmp_path / "config.10.yaml").write_text("seed: 0\n")
    logger = start_mlflow_logger(tmp_path)
    logger.log_config({"seed": 0})
    logger.log_artifacts([tmp_path / "config.yaml", tmp_path / "missing.txt"])
    logger.close()
    client = MlflowClient((tmp_path / "mlruns").as_uri())
    assert artifact_paths(client, logger.run_id) == {"config.json", "config.10.yaml", "config.yaml"}


PROVENANCE = {
    "git_commit": "abc",
    "git_dirty": False,
    "packages": {"jax": "0.10.2"},
    "devices": ["cpu:0"],
    "command": "x" * 10_000,
    "started_at": "2026-12-01T13:00:00+00:00",
    "start_step": 0,
}


def test_mlflow_logs_provenance_as_tags_params_and_one_artifact_per_start(tmp_path):
    first = start_mlflow_logger(tmp_path)
    first.log_provenance(PROVENANCE)
    first.close()
    resumed = start_mlflow_logger(tmp_path)
    resumed.log_provenance({**PROVENANCE, "git_commit": "def", "started_at": "2026-12-01T14:00:00+00:00"})
    resumed.close()
    client = MlflowClient((tmp_path / "mlruns").as_uri())
    run = client.get_run(first.run_id)
    assert run.data.params["provenance.git_commit"] == "abc"  # the first start's, as parameters
    assert run.data.tags["provenance.git_commit"] == "def"  # the latest start's, as tags
    assert run.data.tags["provenance.git_dirty"] == "false"
    assert run.data.tags["provenance.packages.jax"] == "0.10.2"
    assert run.data.tags["provenance.devices"] == '["cpu:0"]'
    assert len(run.data.tags["provenance.command"]) < len(PROVENANCE["command"])
    assert artifact_paths(client, first.run_id, "provenance") == {
        "provenance/2026-12-01T13-00-00+00-00.json",
        "provenance/2026-12-01T14-00-00+00-00.json",
    }
    record = client.download_artifacts(first.run_id, "provenance/2026-12-01T13-00-00+00-00.json", str(tmp_path))
    assert json.loads(Path(record).read_text()) == PROVENANCE


def test_mlflow_keeps_null_provenance_and_the_values_of_the_end_out_of_the_params(tmp_path):
    started = {**PROVENANCE, "git_commit": None, "ended_at": None, "end_step": None, "exit_status": None}
    ended = {**started, "ended_at": "2026-12-01T13:05:00+00:00", "end_step": 10, "exit_status": 0}
    end_tags = {"provenance.ended_at", "provenance.end_step", "provenance.exit_status"}
    first = start_mlflow_logger(tmp_path)
    first.log_provenance(started)
    first.log_provenance(ended)
    first.close()
    client = MlflowClient((tmp_path / "mlruns").as_uri())
    run = client.get_run(first.run_id)
    assert [key for key, value in run.data.params.items() if value in {"null", "None"}] == []
    assert not ({"provenance.git_commit"} | end_tags) & run.data.params.keys()
    assert run.data.params["provenance.start_step"] == "0"
    assert {key: run.data.tags[key] for key in end_tags} == {
        "provenance.ended_at": "2026-12-01T13:05:00+00:00",
        "provenance.end_step": "10",
        "provenance.exit_status": "0",
    }
    resumed = start_mlflow_logger(tmp_path)
    resumed.log_provenance({**started, "started_at": "2026-12-01T14:00:00+00:00", "start_step": 10})
    tags = client.get_run(first.run_id).data.tags
    assert not end_tags & tags.keys()  # the start in progress has not ended: no end of an earlier start shown
    assert tags["provenance.start_step"] == "10"
    resumed.close()


def test_the_analysis_is_logged_into_the_run_without_changing_its_status(tmp_path):
    logger = start_mlflow_logger(tmp_path)
    logger.close()
    (tmp_path / "analysis.json").write_text("{}")
    assert log_analysis_artifacts(tmp_path, [tmp_path / "analysis.json", tmp_path / "missing.png"])
    client = MlflowClient((tmp_path / "mlruns").as_uri())
    assert artifact_paths(client, logger.run_id, "analysis") == {"analysis/analysis.json"}
    assert client.get_run(logger.run_id).info.status == "FINISHED"


def test_the_analysis_of_a_run_without_mlflow_logs_nothing(tmp_path, capsys):
    assert not log_analysis_artifacts(tmp_path, [])
    assert capsys.readouterr().err == ""


def test_the_analysis_warns_in_one_line_when_the_tracking_server_is_gone(tmp_path, capsys):
    record = {"tracking_uri": "http://127.0.0.1:1", "experiment_id": "1", "run_id": "abc"}
    (tmp_path / "mlflow_run.json").write_text(json.dumps(record))
    (tmp_path / "analysis.json").write_text("{}")
    assert not log_analysis_artifacts(tmp_path, [tmp_path / "analysis.json"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: not logged to MLflow run abc at http://127.0.0.1:1")
