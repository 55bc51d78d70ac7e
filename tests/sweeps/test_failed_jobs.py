"""Failed jobs of a sweep: the FAILED file, and the callback that lists them and fails the sweep's exit code."""

import pytest
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from simplexity.sweeps import (
    FAILED_FILE,
    FAILED_JOBS_EXIT_CODE,
    FailedJobsCallback,
    find_failures,
    read_failure,
    record_failure,
)


def hydra_config(output_dir, mode: RunMode = RunMode.MULTIRUN, job: int = 3) -> DictConfig:
    return OmegaConf.create(
        {
            "hydra": {
                "mode": mode,
                "runtime": {"output_dir": str(output_dir)},
                "job": {"num": job},
                "sweep": {"dir": str(output_dir.parent)},
            }
        }
    )


def test_a_recorded_failure_reads_back(tmp_path):
    record_failure(tmp_path / "1", 1, ["seed=1", "training=tiny"], "training.batch_size=-1: must be positive")
    failure = read_failure(tmp_path / "1")
    assert failure is not None
    assert failure.describe() == "job 1 (seed=1 training=tiny): training.batch_size=-1: must be positive"


def test_a_directory_without_a_failed_file_has_no_failure(tmp_path):
    assert read_failure(tmp_path) is None


def test_failures_are_found_by_job_number_outside_hidden_folders(tmp_path):
    for job in [10, 2]:
        record_failure(tmp_path / str(job), job, [], "bad")
    record_failure(tmp_path / ".submitit" / "7", 7, [], "bad")
    assert [failure.job for failure in find_failures(tmp_path)] == [2, 10]


def test_a_job_that_raised_is_marked_failed(tmp_path):
    job_return = JobReturn(overrides=["seed=3"], status=JobStatus.FAILED, _return_value=ValueError("boom"))
    FailedJobsCallback().on_job_end(hydra_config(tmp_path / "3"), job_return)
    failure = read_failure(tmp_path / "3")
    assert failure is not None
    assert failure.describe() == "job 3 (seed=3): ValueError: boom"


def test_a_single_run_is_left_alone(tmp_path):
    job_return = JobReturn(overrides=[], status=JobStatus.FAILED, _return_value=ValueError("boom"))
    FailedJobsCallback().on_job_end(hydra_config(tmp_path, mode=RunMode.RUN), job_return)
    assert not (tmp_path / FAILED_FILE).exists()


def test_a_new_attempt_of_a_job_clears_its_old_failed_file(tmp_path):
    record_failure(tmp_path / "3", 3, [], "bad")
    FailedJobsCallback().on_job_start(hydra_config(tmp_path / "3"), task_function=lambda cfg: None)
    assert read_failure(tmp_path / "3") is None


def test_a_sweep_with_failed_jobs_lists_them_and_exits_non_zero(tmp_path, capsys):
    record_failure(tmp_path / "sweep" / "1", 1, ["seed=1"], "bad seed")
    with pytest.raises(SystemExit) as exit_info:
        FailedJobsCallback().on_multirun_end(hydra_config(tmp_path / "sweep" / "0"))
    assert exit_info.value.code == FAILED_JOBS_EXIT_CODE != 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "error: job 1 (seed=1): bad seed"
    assert lines[1].startswith("error: 1 job(s) of the sweep failed")


def test_a_sweep_without_failed_jobs_ends_normally(tmp_path, capsys):
    (tmp_path / "sweep" / "0").mkdir(parents=True)
    FailedJobsCallback().on_multirun_end(hydra_config(tmp_path / "sweep" / "0"))
    assert capsys.readouterr().err == ""
