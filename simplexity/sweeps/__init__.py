"""Sweeps: the failed jobs of a multirun, and a summary table of its runs.

`FailedJobsCallback` is registered in `configs/train.yaml`; `summarize_runs(DIR)`,
`python scripts/summarize_runs.py DIR` and `python -m simplexity.sweeps DIR` summarise every run under a multirun
directory.
"""

from simplexity.sweeps.failed_jobs import (
    FAILED_FILE,
    FAILED_JOBS_EXIT_CODE,
    FailedJob,
    FailedJobsCallback,
    find_failures,
    read_failure,
    record_failure,
)
from simplexity.sweeps.summary import RunSummary, format_table, summarize_runs, to_json

__all__ = [
    "FAILED_FILE",
    "FAILED_JOBS_EXIT_CODE",
    "FailedJob",
    "FailedJobsCallback",
    "RunSummary",
    "find_failures",
    "format_table",
    "read_failure",
    "record_failure",
    "summarize_runs",
    "to_json",
]
