"""The sweep summary on synthetic run directories: which runs, which overrides, which numbers, which status."""

import json
import math
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from simplexity.sweeps import record_failure, summarize_runs
from simplexity.sweeps.summary import differing_keys, format_table, load_sweep, main, to_json

pytestmark = pytest.mark.stack  # MLflow and pandas: run on the plain-install stack and on the extras' stack


def config(seed: int = 0, learning_rate: float = 0.003, model: str = "gru_rnn", num_steps: int = 6) -> dict[str, Any]:
    return {
        "seed": seed,
        "predictive_model": {
            "name": model,
            "instance": {"_target_": f"simplexity.predictive_models.build_{model}", "hidden_size": 64, "seed": seed},
        },
        "training": {
            "num_steps": num_steps,
            "batch_size": 4,
            "optimizer": {"instance": {"learning_rate": learning_rate}},
        },
        "logging": {"loggers": ["jsonl"]},
    }


def record(step: int, loss: float, steps_per_second: float = 100.0, **metrics: Any) -> dict[str, Any]:
    return {"step": step, "loss": loss, "steps_per_second": steps_per_second, **metrics}


def make_run(directory: Path, cfg: dict[str, Any] | None, records: list[dict[str, Any]] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if cfg is not None:
        OmegaConf.save(OmegaConf.create(cfg), directory / "config.yaml")
    if records is not None:
        (directory / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return directory


def finished(num_steps: int = 6, final_loss: float = 1.1) -> list[dict[str, Any]]:
    return [
        record(step, final_loss + 0.1 * (num_steps - step), 100.0 * step, **{"validation/loss": final_loss - 0.01})
        | {"validation/excess_loss": 0.02 * step}
        for step in range(2, num_steps + 1, 2)
    ]


def test_every_run_is_found_recursively_in_natural_order(tmp_path):
    for name in ["10", "2", "0", "nested/sweep/1"]:
        make_run(tmp_path / name, config(seed=int(name[-1]) if name != "10" else 10), finished())
    assert [summary.run for summary in summarize_runs(tmp_path)] == ["0", "2", "10", "nested/sweep/1"]


def test_final_losses_are_the_last_logged_and_steps_per_second_the_mean(tmp_path):
    make_run(tmp_path / "0", config(), finished(final_loss=1.1))
    [summary] = summarize_runs(tmp_path)
    assert summary.loss == pytest.approx(1.1)
    assert summary.validation_loss == pytest.approx(1.09)
    assert summary.excess_loss == pytest.approx(0.12)
    assert summary.steps_per_second == pytest.approx(400.0)
    assert (summary.status, summary.last_step, summary.num_steps) == ("ok", 6, 6)


def test_overrides_are_the_keys_whose_values_differ_across_runs(tmp_path):
    make_run(tmp_path / "0", config(seed=0, learning_rate=0.01), finished())
    make_run(tmp_path / "1", config(seed=1, learning_rate=0.01), finished())
    make_run(tmp_path / "2", config(seed=0, learning_rate=0.001), finished())
    overrides = [summary.overrides for summary in summarize_runs(tmp_path)]
    assert overrides == [
        {"seed": 0, "training.optimizer.instance.learning_rate": 0.01},
        {"seed": 1, "training.optimizer.instance.learning_rate": 0.01},
        {"seed": 0, "training.optimizer.instance.learning_rate": 0.001},
    ]


def test_a_model_switch_shows_the_model_name_not_its_builder():
    keys = differing_keys(
        [
            {"predictive_model.name": "gru_rnn", "predictive_model.instance._target_": "build_gru_rnn", "seed": 0},
            {"predictive_model.name": "lstm", "predictive_model.instance._target_": "build_lstm", "seed": 0},
        ]
    )
    assert keys == ["predictive_model.name"]


def test_a_key_only_some_runs_have_counts_as_differing():
    keys = differing_keys([{"predictive_model.instance.hidden_size": 64}, {"predictive_model.instance.d_model": 32}])
    assert keys == ["predictive_model.instance.d_model", "predictive_model.instance.hidden_size"]


def test_a_single_run_has_no_overrides(tmp_path):
    make_run(tmp_path, config(), finished())
    [summary] = summarize_runs(tmp_path)
    assert (summary.run, summary.overrides) == (".", {})


@pytest.mark.parametrize(
    ("records", "error"),
    [
        (None, "no metrics.jsonl"),
        ([], "no metrics.jsonl"),
        (finished(num_steps=4), "stopped at step 4 of 6"),
    ],
    ids=["no-metrics-file", "empty-metrics", "stopped-early"],
)
def test_a_run_without_metrics_or_short_of_its_steps_failed(tmp_path, records, error):
    make_run(tmp_path / "0", config(num_steps=6), records)
    [summary] = summarize_runs(tmp_path)
    assert (summary.status, summary.error) == ("failed", error)


def test_a_job_marked_failed_shows_its_error_and_the_overrides_not_shared_by_the_sweep(tmp_path):
    make_run(tmp_path / "0", config(), finished())
    record_failure(tmp_path / "1", 1, ["training.batch_size=-1", "training=tiny"], "training.batch_size=-1: bad")
    OmegaConf.save(
        OmegaConf.create({"hydra": {"overrides": {"task": ["training.batch_size=4,-1", "training=tiny"]}}}),
        tmp_path / "multirun.yaml",
    )
    ok, failed = summarize_runs(tmp_path)
    assert (ok.status, failed.status) == ("ok", "failed")
    assert failed.error == "training.batch_size=-1: bad"
    assert failed.overrides == {"training.batch_size": -1}
    assert failed.loss is None


def test_a_failed_mark_wins_over_complete_metrics(tmp_path):
    run = make_run(tmp_path / "0", config(), finished())
    record_failure(run, 0, [], "loss became non-finite at step 6")
    [summary] = summarize_runs(tmp_path)
    assert (summary.status, summary.error) == ("failed", "loss became non-finite at step 6")


def test_hidden_directories_are_neither_runs_nor_searched(tmp_path):
    run = make_run(tmp_path / "0", config(), finished())
    make_run(run / ".hydra", config(seed=5))
    make_run(tmp_path / ".submitit" / "123", config(seed=6), finished())
    assert [summary.run for summary in summarize_runs(tmp_path)] == ["0"]


def test_a_resumed_run_is_judged_by_its_latest_config(tmp_path):
    run = make_run(tmp_path / "0", config(num_steps=6), finished(num_steps=8))
    OmegaConf.save(OmegaConf.create(config(num_steps=8)), run / "config.1.yaml")
    [summary] = summarize_runs(tmp_path)
    assert (summary.status, summary.num_steps, summary.last_step) == ("ok", 8, 8)


def test_an_unreadable_config_fails_its_run_only(tmp_path):
    make_run(tmp_path / "0", config(), finished())
    (make_run(tmp_path / "1", None) / "config.yaml").write_text("training: [unclosed\n")
    ok, broken = summarize_runs(tmp_path)
    assert ok.status == "ok"
    assert (broken.status, broken.error) == ("failed", "no readable config.yaml")


def test_a_line_a_crash_left_unfinished_is_skipped(tmp_path):
    run = make_run(tmp_path / "0", config(), finished())
    with (run / "metrics.jsonl").open("a") as file:
        file.write('{"step": 8, "loss": 0.')
    [summary] = summarize_runs(tmp_path)
    assert summary.last_step == 6


def test_json_is_strict_with_null_for_non_finite_numbers(tmp_path):
    make_run(tmp_path / "0", config(), [record(2, 1.2), record(4, math.nan), record(6, math.inf)])
    [entry] = json.loads(to_json(summarize_runs(tmp_path)))
    assert entry["loss"] is None
    assert entry["status"] == "ok"
    assert entry["validation_loss"] is None


def test_the_table_has_one_row_per_run_and_one_line_per_failure(tmp_path):
    make_run(tmp_path / "0", config(seed=0), finished())
    make_run(tmp_path / "1", config(seed=1), finished(num_steps=4))
    lines = format_table(summarize_runs(tmp_path)).splitlines()
    assert lines[0].split() == ["run", "status", "loss", "val_loss", "excess_loss", "steps/s", "overrides"]
    assert lines[1].split() == ["0", "ok", "1.1000", "1.0900", "0.1200", "400.0", "seed=0"]
    assert lines[2].split()[:2] == ["1", "failed"]
    assert lines[3] == "1: stopped at step 4 of 6"
    assert len(lines) == 4


def test_main_prints_the_table_or_json(tmp_path, capsys):
    make_run(tmp_path / "0", config(), finished())
    assert main([str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("run ")
    assert main([str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["run"] == "0"


@pytest.mark.parametrize("name", ["empty", "missing"])
def test_main_refuses_a_directory_without_runs(tmp_path, capsys, name):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / name)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and len(error.strip().splitlines()) == 1


def test_the_sweep_table_has_one_row_per_run_with_status_final_metrics_and_override_columns(tmp_path):
    make_run(tmp_path / "0", config(seed=0, learning_rate=0.01), finished(final_loss=1.1))
    make_run(tmp_path / "1", config(seed=1, learning_rate=1.0), finished(num_steps=4, final_loss=1.2))
    record_failure(tmp_path / "2", 2, ["seed=2"], "seed=2: bad")
    table = load_sweep(tmp_path)
    assert list(table.columns) == [
        "run_dir",
        "run",
        "status",
        "error",
        "last_step",
        "num_steps",
        "loss",
        "validation/loss",
        "validation/excess_loss",
        "steps_per_second",
        "seed",
        "training.optimizer.instance.learning_rate",
    ]
    assert table["run_dir"].tolist() == [str((tmp_path / name).absolute()) for name in ["0", "1", "2"]]
    assert table["status"].tolist() == ["ok", "failed", "failed"]
    assert table["last_step"].fillna(-1).tolist() == [6, 4, -1]  # NA: the failed job logged nothing
    assert table["loss"].iloc[0] == pytest.approx(1.1) and math.isnan(table["loss"].iloc[2])
    assert table["steps_per_second"].iloc[0] == pytest.approx(400.0)
    assert (str(table["seed"].dtype), table["seed"].tolist()) == ("Int64", [0, 1, 2])
    learning_rates = table["training.optimizer.instance.learning_rate"]
    assert (str(learning_rates.dtype), learning_rates.tolist()[:2]) == ("Float64", [0.01, 1.0])
    assert learning_rates.isna().tolist() == [False, False, True]  # the failed job was not given one


def test_a_step_a_resumed_run_logged_again_counts_once(tmp_path):
    first = [record(2, 1.3, 100.0), record(4, 1.2, 100.0)]
    resumed = [record(4, 1.25, 400.0), record(6, 1.1, 400.0)]  # from the checkpoint of step 2
    make_run(tmp_path / "0", config(num_steps=6), first + resumed)
    [summary] = summarize_runs(tmp_path)
    assert (summary.status, summary.last_step, summary.loss) == ("ok", 6, pytest.approx(1.1))
    assert summary.steps_per_second == pytest.approx(300.0)


def test_the_sweep_table_of_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_sweep(tmp_path / "missing")
