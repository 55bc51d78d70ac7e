"""`run_analysis.py` end to end, in subprocesses, on a tiny training run."""

import json
from pathlib import Path

import pytest

from simplexity.analysis.regression import RIDGE_PENALTIES
from tests.command_line import run_script

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("run")
    result = run_script("run_experiment.py", "training=tiny", "predictive_model=gru_rnn", f"hydra.run.dir={run_dir}")
    assert result.returncode == 0, result.stderr
    return run_dir


def test_analysis_of_a_run_writes_its_report_and_figures(trained_run):
    result = run_script("run_analysis.py", f"run_dir={trained_run}", "max_context_len=4")
    assert result.returncode == 0, result.stderr
    report = json.loads((trained_run / "analysis.json").read_text())
    assert report["step"] == 6
    assert set(report["regression"]) == {"embedding", "layer_0", "layer_1", "concatenated"}
    assert set(report["regression"]["concatenated"]) == {
        "r2",
        "rmse",
        "train_r2",
        "rmse_over_untrained",
        "rmse_over_best_markov",
        "per_position",
        "ridge",
    }
    assert report["ridge"] == "cross-validated"
    assert report["regression"]["concatenated"]["ridge"] in RIDGE_PENALTIES
    assert 1 <= report["effective_test_contexts"] <= report["num_test_contexts"]
    assert report["effective_test_contexts"] < report["effective_train_contexts"]
    assert set(report["controls"]) == {"untrained", "shuffled_targets", "markov", "best_markov_order"}
    assert report["weights"] == "probability" and report["last_position_only"] is False
    assert set(report["position_loss"]) == {"model", "myopic_entropy", "max_abs_difference"}
    assert len(report["position_loss"]["model"]) == 4
    for name in ["belief_geometry.png", "position_loss.png", "training_curve.png"]:
        assert (trained_run / name).stat().st_size > 0
    assert "belief probe from concatenated" in result.stdout
    assert "x untrained" in result.stdout and "controls: best Markov baseline" in result.stdout
    assert "equally weighted), scored on" in result.stdout


def test_an_earlier_checkpoint_into_another_directory(trained_run, tmp_path):
    result = run_script("run_analysis.py", f"run_dir={trained_run}", "step=2", f"output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "analysis.json").read_text())["step"] == 2


def test_a_run_without_checkpoint_fails_in_one_line(trained_run, tmp_path):
    (tmp_path / "config.yaml").write_text((trained_run / "config.yaml").read_text())
    result = run_script("run_analysis.py", f"run_dir={tmp_path}")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("error: run_dir=") and "no checkpoint in" in result.stderr
    assert not (tmp_path / "analysis.json").exists()


def test_least_squares_probes_on_request(trained_run, tmp_path):
    result = run_script("run_analysis.py", f"run_dir={trained_run}", "ridge=0", f"output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "analysis.json").read_text())
    assert report["ridge"] == 0.0
    assert {scores["ridge"] for scores in report["regression"].values()} == {0.0}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ((), "error: run_dir: missing; give the training run directory"),
        (("ridge=-1",), "error: ridge=-1: must be null (chosen by cross-validation) or a number at least 0"),
        (("run_dir=/no/such/run",), "error: run_dir='/no/such/run': is not a directory"),
        (("step=99",), "error: step=99: no checkpoint of that step"),
    ],
)
def test_user_errors_fail_in_one_line(trained_run, overrides, expected):
    if overrides and not overrides[0].startswith("run_dir="):
        overrides = (f"run_dir={trained_run}", *overrides)
    result = run_script("run_analysis.py", *overrides)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith(expected), result.stderr


def test_a_bos_run_is_analysed_with_the_bos_position(tmp_path):
    run_dir = tmp_path / "bos"
    overrides = ["training=tiny", "generative_process@training_data_generator=mess3_bos", f"hydra.run.dir={run_dir}"]
    trained = run_script("run_experiment.py", *overrides)
    assert trained.returncode == 0, trained.stderr
    result = run_script("run_analysis.py", f"run_dir={run_dir}", "max_context_len=4")
    assert result.returncode == 0, result.stderr
    report = json.loads((run_dir / "analysis.json").read_text())
    # Position 0 has seen only BOS: nothing is uncertain about it, its optimum is mess3's h(1) = ln 3.
    assert report["position_loss"]["myopic_entropy"][0] == pytest.approx(1.0986122886681098, abs=1e-12)
    assert report["entropy_rate"] == pytest.approx(1.08889, abs=1e-5)


def test_step_all_analyses_every_checkpoint_into_curves(trained_run, tmp_path):
    result = run_script(
        "run_analysis.py", f"run_dir={trained_run}", "step=all", "max_context_len=3", f"output_dir={tmp_path}"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "analysis.json").read_text())
    curve = report["curve"]
    assert [point["step"] for point in curve] == [2, 4, 6]
    assert [point["tokens_seen"] for point in curve] == [2 * 4 * 8, 4 * 4 * 8, 6 * 4 * 8]  # batch 4, sequence 8
    assert curve[-1]["regression"]["concatenated"]["rmse"] == report["regression"]["concatenated"]["rmse"]
    assert all(point["excess_loss"] >= 0 for point in curve)
    assert (tmp_path / "analysis_curve.png").stat().st_size > 0
    assert "step 4 (128 tokens)" in result.stdout


def test_sampled_contexts_are_analysed_at_every_trained_position(trained_run, tmp_path):
    result = run_script(
        "run_analysis.py", f"run_dir={trained_run}", "contexts=sample", "num_sequences=64", f"output_dir={tmp_path}"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "analysis.json").read_text())
    assert report["contexts"] == "sampled (64 sequences)"
    assert report["max_context_len"] == 8  # the trained sequence_len
    assert len(report["regression"]["concatenated"]["per_position"]["rmse"]) == 8


def test_a_sweep_directory_is_analysed_run_by_run_into_one_table(trained_run, tmp_path):
    for job in ("0", "1"):
        (tmp_path / job).symlink_to(trained_run, target_is_directory=True)
    result = run_script("run_analysis.py", f"run_dir={tmp_path}", "max_context_len=3")
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "analysis_table.json").read_text())
    assert [Path(row["run_dir"]).name for row in rows] == ["0", "1"]
    assert rows[0]["regression"]["concatenated"] == rows[1]["regression"]["concatenated"]
    assert "run  step  model  R^2  RMSE  x untrained  x best Markov" in result.stdout
