"""`run_analysis.py` end to end, in subprocesses, on a tiny training run."""

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from simplexity.analysis.regression import RIDGE_PENALTIES
from simplexity.logging import read_jsonl_metrics
from tests.command_line import file_digests, run_script

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
    assert set(report["regression"]) == {"embed", "layer_0.hidden", "layer_1.hidden", "concatenated"}
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
    assert set(report["controls"]) == {
        "untrained",
        "shuffled_targets",
        "markov",
        "best_markov_order",
        "best_markov_exact",
    }
    assert report["weights"] == "probability" and report["last_position_only"] is False
    assert set(report["position_loss"]) == {
        "model",
        "myopic_entropy",
        "max_abs_difference",
        "predictable_information_captured",
        "predictable_information_error_bound",
    }
    assert report["position_loss"]["predictable_information_error_bound"] == 0.0  # every context enumerated
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


def test_a_factored_run_gets_the_factored_analysis_in_its_report_curve_console_and_figure(tmp_path):
    run_dir = tmp_path / "factored"
    overrides = ["training=tiny", "generative_process@training_data_generator=factored", f"hydra.run.dir={run_dir}"]
    trained = run_script("run_experiment.py", *overrides)
    assert trained.returncode == 0, trained.stderr
    result = run_script("run_analysis.py", f"run_dir={run_dir}", "max_context_len=2", "step=all")
    assert result.returncode == 0, result.stderr
    factors = json.loads((run_dir / "analysis.json").read_text())["factors"]
    targets = {"factor_0", "factor_1", "factor_2", "factors", "joint"}
    assert set(factors["probes"]) == targets and set(factors["untrained_probes"]) == targets
    assert factors["reference_dimensions"]["factored"] == 6  # three mess3 factors: 3 x (3 - 1)
    assert set(factors["dimensions"]["layer_1.hidden"]) == {"0.8", "0.9", "0.95", "0.99"}
    assert set(factors["vary_one_overlap"]["layer_1.hidden"]) == {"0-1", "0-2", "1-2"}
    assert factors["random_overlap"]["layer_1.hidden"][0] == pytest.approx(1 / 64)  # hidden_size 64
    assert set(factors["coefficient_angles"]["concatenated"]["0-1"]) == {
        "overlap",
        "largest_cosine",
        "smallest_cosine",
    }
    curve = json.loads((run_dir / "analysis.json").read_text())["curve"]
    assert [set(point["factors"]) for point in curve] == [
        {"dimensions", "reference_dimensions", "probes", "vary_one_overlap_k1"}
    ] * 3
    assert (run_dir / "factors.png").stat().st_size > 0
    assert "factor_2 probe from concatenated: held-out R^2=" in result.stdout
    assert "(factored line 6, joint line" in result.stdout
    assert "layer_1.hidden: vary-one overlap at k=1 0-1 " in result.stdout


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
    lines = result.stdout.splitlines()
    stages = [lines.index(line) for line in lines if line.startswith(("building the contexts", "drawing the figures"))]
    checkpoints = [line for line in lines if line.startswith("checkpoint ")]
    assert checkpoints == [f"checkpoint {n}/3 (step {2 * n}): analysing" for n in (1, 2, 3)]
    assert len(stages) == 2 and stages[0] < lines.index(checkpoints[0]) < stages[1]
    # The report's analysis is the curve's last point: checkpoint 6 is analysed once.
    assert not any(line.startswith("analysing checkpoint") for line in lines)
    assert lines.index(checkpoints[-1]) < stages[1]


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


def one_stderr_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    return lines[0]


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result.stderr.strip().splitlines()


def test_an_exact_markov_baseline_is_reported_in_training_and_analysis_alike(tmp_path):
    run_dir = tmp_path / "golden_mean"
    trained = run_script(
        "run_experiment.py",
        "training=tiny",
        "generative_process@training_data_generator=no_consecutive_ones",
        "analysis.every=2",
        "analysis.max_context_len=3",
        f"hydra.run.dir={run_dir}",
    )
    assert trained.returncode == 0, trained.stderr
    records = read_jsonl_metrics(run_dir / "metrics.jsonl")
    assert [record["step"] for record in records if "analysis/concatenated/rmse" in record] == [2, 4, 6]
    assert not [key for record in records for key in record if key.endswith("rmse_over_best_markov")]
    result = run_script("run_analysis.py", f"run_dir={run_dir}", "step=all", "max_context_len=3")
    assert result.returncode == 0, result.stderr
    report = json.loads((run_dir / "analysis.json").read_text())
    controls = report["controls"]
    assert controls["best_markov_order"] == 1 and controls["best_markov_exact"] is True
    assert controls["markov"]["order_1"]["exact"] is True
    assert {scores["rmse_over_best_markov"] for scores in report["regression"].values()} == {None}
    assert report["regression"]["concatenated"]["rmse"] == pytest.approx(
        records[-1]["analysis/concatenated/rmse"], rel=1e-9
    )
    curve = report["curve"]
    assert [point["best_markov_exact"] for point in curve] == [True, True, True]
    assert {scores["rmse_over_best_markov"] for point in curve for scores in point["regression"].values()} == {None}
    assert (run_dir / "analysis_curve.png").stat().st_size > 0
    assert "x best Markov undefined" in result.stdout
    assert "controls: best Markov baseline (order 1) R^2=1.0000 RMSE=0.0000, exact: it predicts" in result.stdout


def test_an_output_dir_that_cannot_be_written_is_one_line_before_the_analysis(trained_run):
    before = file_digests(trained_run)
    result = run_script("run_analysis.py", f"run_dir={trained_run}", "output_dir=/proc/1")
    assert result.returncode == 5
    assert one_stderr_line(result).startswith("error: output_dir='/proc/1': cannot be written (")
    assert "analysed step" not in result.stdout
    assert file_digests(trained_run) == before


@contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """Makes `directory` read-only: a read-only bind mount for root (whom permissions do not stop), else chmod."""
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)
        return
    if shutil.which("mount") is None:
        pytest.skip("a read-only directory for root is a read-only bind mount, which needs mount")
    mounted = subprocess.run(["mount", "--bind", str(directory), str(directory)], check=False)
    if mounted.returncode != 0:
        pytest.skip("bind mounts are not permitted here")
    try:
        remounted = subprocess.run(["mount", "-o", "remount,ro,bind", str(directory)], check=False)
        if remounted.returncode != 0:
            pytest.skip("read-only remounts are not permitted here")
        yield
    finally:
        subprocess.run(["umount", str(directory)], check=False)


def test_a_read_only_run_directory_is_one_line_before_the_analysis(trained_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(trained_run, run_dir)
    before = file_digests(run_dir)
    with read_only(run_dir):
        result = run_script("run_analysis.py", f"run_dir={run_dir}", "max_context_len=3")
    assert result.returncode == 5
    line = one_stderr_line(result)
    assert line.startswith(f"error: run_dir={str(run_dir)!r}: cannot be written ("), line
    assert "analysed step" not in result.stdout
    assert file_digests(run_dir) == before


def damaged_copy(run_dir: Path, destination: Path, damage: dict[int, str]) -> Path:
    """A copy of `run_dir` whose checkpoints are damaged: step to `truncate` (a data file) or `delete_metadata`."""
    shutil.copytree(run_dir, destination)
    for step, how in damage.items():
        checkpoint = destination / "checkpoints" / str(step) / "default"
        if how == "truncate":
            largest = max((checkpoint / "ocdbt.process_0" / "d").iterdir(), key=lambda path: path.stat().st_size)
            os.truncate(largest, 10)
        else:
            (checkpoint / "_METADATA").unlink()
    return destination


def test_latest_falls_back_past_a_damaged_checkpoint_in_one_warning_line(trained_run, tmp_path):
    run_dir = damaged_copy(trained_run, tmp_path / "run", {6: "truncate"})
    checkpoints = file_digests(run_dir / "checkpoints")
    result = run_script("run_analysis.py", f"run_dir={run_dir}", "max_context_len=3", f"output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    line = one_stderr_line(result)
    assert line.startswith(f"warning: checkpoint 6 in {run_dir / 'checkpoints'} is damaged ("), line
    assert line.endswith("; left in place; trying step 4"), line
    assert json.loads((tmp_path / "analysis.json").read_text())["step"] == 4
    assert file_digests(run_dir / "checkpoints") == checkpoints  # an analysis moves nothing aside


def test_a_damaged_checkpoint_asked_for_by_step_exits_4_naming_the_newest_good_one(trained_run, tmp_path):
    run_dir = damaged_copy(trained_run, tmp_path / "run", {4: "delete_metadata"})
    before = file_digests(run_dir)
    result = run_script("run_analysis.py", f"run_dir={run_dir}", "step=4")
    assert result.returncode == 4
    line = one_stderr_line(result)
    assert line.startswith(f"error: step=4: checkpoint 4 in {run_dir / 'checkpoints'} is damaged ("), line
    assert line.endswith("; the newest good checkpoint is step 6"), line
    assert file_digests(run_dir) == before


def test_step_all_skips_each_damaged_checkpoint_in_one_warning_line(trained_run, tmp_path):
    run_dir = damaged_copy(trained_run, tmp_path / "run", {2: "truncate", 6: "delete_metadata"})
    checkpoints = file_digests(run_dir / "checkpoints")
    result = run_script(
        "run_analysis.py", f"run_dir={run_dir}", "step=all", "max_context_len=3", f"output_dir={tmp_path}"
    )
    assert result.returncode == 0, result.stderr
    newest, oldest = stderr_lines(result)
    directory = run_dir / "checkpoints"
    assert newest.startswith(f"warning: checkpoint 6 in {directory} is damaged (") and newest.endswith("step 4")
    assert oldest.startswith(f"warning: checkpoint 2 in {directory} is damaged (") and oldest.endswith("skipped")
    report = json.loads((tmp_path / "analysis.json").read_text())
    assert report["step"] == 4 and [point["step"] for point in report["curve"]] == [4]
    assert file_digests(run_dir / "checkpoints") == checkpoints
