import io
import json

from mlflow.tracking import MlflowClient

from simplexity.logging import ConsoleLogger, JsonlLogger, MlflowLogger


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
