"""Failed jobs of a sweep: a `FAILED` file in the job's directory, and a non-zero exit code for the sweep.

A job that fails on a user's mistake or a non-finite loss is reported by `simplexity.cli.run_reporting_user_errors`,
which calls `record_failure` and lets the sweep go on. `FailedJobsCallback` (registered in
`configs/train.yaml` under `hydra.callbacks`) marks jobs that raised anything else, and once the sweep
is over lists every failed job on stderr and exits with `FAILED_JOBS_EXIT_CODE`.
"""

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode, TaskFunction
from omegaconf import DictConfig, OmegaConf

from simplexity.errors import one_line
from simplexity.run_directory import FAILED_FILE, find_run_dirs

FAILED_JOBS_EXIT_CODE = 1


@dataclass(frozen=True)
class FailedJob:
    """What a `FAILED` file records: the job's number in its sweep, its overrides and the one-line error."""

    job: int | None
    overrides: list[str]
    error: str

    def describe(self) -> str:
        """Returns `job N (OVERRIDES): ERROR` on one line."""
        return f"job {self.job} ({' '.join(self.overrides)}): {self.error}"


def record_failure(run_dir: str | Path, job: int | None, overrides: list[str], error: str) -> FailedJob:
    """Writes the `FAILED` file of a job into its directory and returns what it records.

    Arguments:
        run_dir: the job's output directory (created if missing).
        job: the job's number in its sweep (`hydra.job.num`).
        overrides: the job's task overrides (`hydra.overrides.task`).
        error: the one-line error.
    """
    failure = FailedJob(job=job, overrides=list(overrides), error=error)
    path = Path(run_dir) / FAILED_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"job": failure.job, "overrides": failure.overrides, "error": failure.error}
    path.write_text(OmegaConf.to_yaml(OmegaConf.create(content)), encoding="utf-8")
    return failure


# Jobs whose failure this process has said on stderr already, by number: the sweep's end lists only the others.
_ANNOUNCED: set[int | None] = set()


def announce_failure(failure: FailedJob) -> None:
    """Says a job's failure in one line on stderr, once: `on_multirun_end` then leaves it out of its list."""
    _ANNOUNCED.add(failure.job)
    print(f"error: {failure.describe()}", file=sys.stderr, flush=True)


def read_failure(run_dir: str | Path) -> FailedJob | None:
    """Returns what the `FAILED` file of `run_dir` records, or None when there is none."""
    path = Path(run_dir) / FAILED_FILE
    if not path.is_file():
        return None
    try:
        content: Any = OmegaConf.to_container(OmegaConf.load(path))
    except Exception:  # a truncated or foreign file still marks the job as failed
        return FailedJob(job=None, overrides=[], error=path.read_text(encoding="utf-8", errors="replace").strip())
    if not isinstance(content, dict):
        return FailedJob(job=None, overrides=[], error=str(content))
    job = content.get("job")
    return FailedJob(
        job=job if isinstance(job, int) else None,
        overrides=[str(override) for override in content.get("overrides") or []],
        error=str(content.get("error", "")),
    )


def find_failures(sweep_dir: str | Path) -> list[FailedJob]:
    """Returns the failures recorded under `sweep_dir`, by job number; hidden folders (`.submitit`) are skipped."""
    failures = [
        failure
        for run_dir in find_run_dirs(sweep_dir, (FAILED_FILE,))
        if (failure := read_failure(run_dir)) is not None
    ]
    return sorted(failures, key=lambda failure: (failure.job is None, failure.job or 0))


def _is_multirun(config: DictConfig) -> bool:
    return OmegaConf.select(config, "hydra.mode") == RunMode.MULTIRUN


class FailedJobsCallback(Callback):
    """Hydra callback: marks failed jobs of a sweep, and ends a sweep with failed jobs with a non-zero exit code.

    Does nothing in a single run. Registered in `configs/train.yaml`:

        hydra:
          callbacks:
            failed_jobs:
              _target_: simplexity.sweeps.FailedJobsCallback
    """

    def on_job_start(self, config: DictConfig, *, task_function: TaskFunction, **kwargs: Any) -> None:
        """Removes the `FAILED` file an earlier attempt of this job left, so the file speaks for this attempt."""
        if _is_multirun(config):
            (Path(config.hydra.runtime.output_dir) / FAILED_FILE).unlink(missing_ok=True)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        """Marks a job that raised (a bug: a user's mistake is recorded by the task itself, which returns)."""
        if _is_multirun(config) and job_return.status == JobStatus.FAILED:
            error = job_return._return_value  # the `return_value` property would raise it
            record_failure(
                config.hydra.runtime.output_dir,
                config.hydra.job.num,
                [str(override) for override in job_return.overrides or []],
                f"{type(error).__name__}: {one_line(error)}" if isinstance(error, BaseException) else str(error),
            )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Lists the failed jobs on stderr and exits with `FAILED_JOBS_EXIT_CODE` if there are any.

        A job whose failure this process said already (`announce_failure`: a job of the basic launcher, or one whose
        config did not compose) is not listed again; the last line counts them all.
        """
        sweep_dir = Path(config.hydra.sweep.dir)
        failures = find_failures(sweep_dir)
        if not failures:
            return
        for failure in failures:
            if failure.job is None or failure.job not in _ANNOUNCED:
                print(f"error: {failure.describe()}", file=sys.stderr)
        print(
            f"error: {len(failures)} job(s) of the sweep failed (a {FAILED_FILE} file in each one's directory); "
            f"`python scripts/summarize_runs.py {sweep_dir}` lists every run",
            file=sys.stderr,
        )
        sys.exit(FAILED_JOBS_EXIT_CODE)
