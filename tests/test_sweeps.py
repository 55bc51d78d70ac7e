"""Sweeps end to end, in subprocesses as a user runs them: multirun, submitit's local launcher, a failing job, optuna.

Every run is `training=tiny logging=quiet`; each test is one sweep.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from simplexity.sweeps import FAILED_JOBS_EXIT_CODE, summarize_runs
from tests.command_line import finish, read_until, start_experiment

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.slow


def run_sweep(sweep_dir: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "run_experiment.py",
            "--multirun",
            *overrides,
            "training=tiny",
            "logging=quiet",
            f"hydra.sweep.dir={sweep_dir}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def assert_complete(run_dir: Path) -> None:
    assert (run_dir / "config.yaml").is_file()
    assert (run_dir / "metrics.jsonl").read_text().count("\n") == 4  # steps 0, 2, 4, 6
    assert sorted(int(path.name) for path in (run_dir / "checkpoints").iterdir()) == [2, 4, 6]


def test_a_multirun_of_four_runs_writes_four_run_directories_and_the_summary_lists_them(tmp_path):
    result = run_sweep(tmp_path, "predictive_model=gru_rnn,lstm", "seed=0,1")
    assert result.returncode == 0, result.stderr
    for job in range(4):
        assert_complete(tmp_path / str(job))

    table = subprocess.run(
        [sys.executable, "scripts/summarize_runs.py", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = [line.split() for line in table.splitlines()[1:]]
    assert [row[:2] for row in rows] == [["0", "ok"], ["1", "ok"], ["2", "ok"], ["3", "ok"]]
    assert [row[6:] for row in rows] == [
        ["predictive_model.name=gru_rnn", "seed=0"],
        ["predictive_model.name=gru_rnn", "seed=1"],
        ["predictive_model.name=lstm", "seed=0"],
        ["predictive_model.name=lstm", "seed=1"],
    ]


@pytest.mark.extras
def test_the_submitit_local_launcher_runs_both_jobs(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="needs the `sweeps` extra")
    result = run_sweep(tmp_path, "hydra/launcher=local", "seed=0,1")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".submitit").is_dir()
    summaries = summarize_runs(tmp_path)
    assert [(s.run, s.status, s.overrides) for s in summaries] == [("0", "ok", {"seed": 0}), ("1", "ok", {"seed": 1})]
    for job in range(2):
        assert_complete(tmp_path / str(job))


def test_a_failing_job_is_reported_and_the_other_jobs_results_are_complete(tmp_path):
    result = run_sweep(tmp_path, "training.batch_size=-1,4")
    assert result.returncode == FAILED_JOBS_EXIT_CODE, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: job 0 ")]
    assert errors and "training.batch_size=-1: must be a positive integer" in errors[-1]
    assert_complete(tmp_path / "1")  # the job after the failed one still ran

    failed, ok = summarize_runs(tmp_path)
    assert (failed.run, failed.status, failed.overrides) == ("0", "failed", {"training.batch_size": -1})
    assert failed.error is not None and "must be a positive integer" in failed.error
    assert (ok.run, ok.status, ok.last_step) == ("1", "ok", 6)


@pytest.mark.extras
def test_the_optuna_preset_runs_its_trials_and_minimises_the_validation_loss(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the `sweeps` extra")
    result = run_sweep(tmp_path, "hydra/sweeper=optuna_search", "hydra.sweeper.n_trials=2")
    assert result.returncode == 0, result.stderr
    summaries = summarize_runs(tmp_path)
    assert [(s.run, s.status) for s in summaries] == [("0", "ok"), ("1", "ok")]
    assert all("training.optimizer.instance.learning_rate" in s.overrides for s in summaries)
    best = OmegaConf.load(tmp_path / "optimization_results.yaml")
    validation_losses = [s.validation_loss for s in summaries if s.validation_loss is not None]
    assert best.best_value == pytest.approx(min(validation_losses))


def test_ctrl_c_stops_the_whole_sweep_with_code_130_and_records_the_stopped_job(tmp_path):
    run = start_experiment(
        "--multirun",
        "seed=0,1",
        "training=tiny",
        "training.num_steps=100000",
        "training.log_every=10",
        "training.checkpoint_every=null",
        f"hydra.sweep.dir={tmp_path}",
    )
    read_until(run, " step 20/")
    os.killpg(run.pid, signal.SIGINT)
    result = finish(run, timeout=120)
    assert result.returncode == 130, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: job 0 (seed=0"), result.stderr
    assert "interrupted at step" in lines[0]
    assert "interrupted at step" in (tmp_path / "0" / "FAILED").read_text()
    assert not (tmp_path / "1").exists()
