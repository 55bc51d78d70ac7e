"""One table of every run under a sweep directory: overrides, final losses, steps/s and status.

`load_sweep(DIR)` returns it as a pandas DataFrame (for a notebook); `python scripts/summarize_runs.py DIR
[--json]` (or `python -m simplexity.sweeps DIR`) prints it. A run is a directory holding `config.yaml` (what
`run_experiment.py` writes once the config is valid) or a `FAILED` file (a job the sweep recorded as failed, see
`simplexity.sweeps.failed_jobs`).
"""

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import OmegaConf

from simplexity.config.run_files import read_latest_config
from simplexity.logging import flatten_config, read_jsonl_metrics
from simplexity.run_directory import CONFIG_FILE, FAILED_FILE, METRICS_FILE, find_run_dirs
from simplexity.sweeps.failed_jobs import FailedJob, read_failure

if TYPE_CHECKING:  # pandas is imported when a table is built, so that `import simplexity` does not pay for it
    import pandas as pd

MULTIRUN_FILE = "multirun.yaml"
FINAL_METRICS = ("loss", "validation/loss", "validation/excess_loss")  # the last logged value of each
MEAN_METRICS = ("steps_per_second",)  # the mean over the log
SWEEP_COLUMNS = ("run_dir", "run", "status", "error", "last_step", "num_steps", *FINAL_METRICS, *MEAN_METRICS)


@dataclass(frozen=True)
class RunSummary:
    """The final results of one run.

    Arguments:
        run: the run's directory relative to the summarised directory (`.` for the directory itself).
        overrides: the keys that tell this run apart from the others, with their values.
        status: `ok`, or `failed` when a `FAILED` file marks it, it logged no metrics, or its last logged step
            is below `training.num_steps` (a run still in progress shows as `failed` too).
        error: the error a `FAILED` file records, or what is missing.
        last_step: the last logged step; `num_steps`: the step the run was to end at.
        loss, validation_loss, excess_loss: the last logged values (None where there is none, or it is NaN);
            `steps_per_second`: the mean over the log.
    """

    run: str
    overrides: dict[str, Any]
    status: str
    error: str | None
    last_step: int | None
    num_steps: int | None
    loss: float | None
    validation_loss: float | None
    excess_loss: float | None
    steps_per_second: float | None


def latest_config(run_dir: Path) -> dict[str, Any] | None:
    """Returns the run's resolved config: `config.N.yaml` of the latest resume, else `config.yaml`; None if none."""
    found = read_latest_config(run_dir)
    if found is None or isinstance(found[1], str):  # a damaged file: the run shows as failed, the others are listed
        return None
    content = OmegaConf.to_container(found[1])
    return {str(key): value for key, value in content.items()} if isinstance(content, dict) else None


def differing_keys(configs: Sequence[dict[str, Any]]) -> list[str]:
    """Returns the dotted keys whose values are not the same in every config (missing counts as different).

    Left out, to keep the list to what a user chose: a key whose value equals, run by run, that of a shorter key
    already listed (an interpolation: `predictive_model.instance.seed` follows `seed`), and a `_target_` when
    another key of its top-level group differs (`predictive_model.name` names the builder). With fewer than two
    configs nothing differs.
    """
    if len(configs) < 2:
        return []
    missing = object()
    all_keys = sorted({key for config in configs for key in config}, key=lambda key: (key.count("."), key))
    kept: list[str] = []
    kept_values: list[list[Any]] = []
    for key in all_keys:
        values = [config.get(key, missing) for config in configs]
        if all(value == values[0] for value in values[1:]):
            continue
        if any(values == other for other in kept_values):
            continue
        kept.append(key)
        kept_values.append(values)
    named_groups = {key.split(".")[0] for key in kept if not key.endswith("._target_")}
    return sorted(key for key in kept if not (key.endswith("._target_") and key.split(".")[0] in named_groups))


def _parse_value(text: str) -> Any:
    """Returns an override's value as a number, boolean or null where it reads as one, else the text."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _sweep_constants(run_dir: Path, root: Path, failures: Sequence[FailedJob]) -> set[str]:
    """Returns the overrides every job of the run's sweep was given.

    They are the sweep's own overrides in its `multirun.yaml` (which Hydra's basic sweeper writes), else those
    common to all `failures`, when there are two or more.
    """
    for directory in [run_dir, *run_dir.parents]:
        path = directory / MULTIRUN_FILE
        if path.is_file():
            overrides = OmegaConf.select(OmegaConf.load(path), "hydra.overrides.task", default=None)
            return {str(override) for override in overrides or []}
        if directory == root:
            break
    if len(failures) < 2:
        return set()
    return set.intersection(*(set(failure.overrides) for failure in failures))


def _last(records: list[dict[str, Any]], name: str) -> float | None:
    for record in reversed(records):
        value = record.get(name)
        if isinstance(value, int | float):
            return float(value)
    return None


def _mean(records: list[dict[str, Any]], name: str) -> float | None:
    values = [float(r[name]) for r in records if isinstance(r.get(name), int | float) and math.isfinite(r[name])]
    return sum(values) / len(values) if values else None


def _run_row(
    run_dir: Path,
    root: Path,
    config: dict[str, Any] | None,
    keys: list[str],
    failure: FailedJob | None,
    unconfigured: list[FailedJob],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Returns the run's row of the fixed columns (`SWEEP_COLUMNS`), and its overrides."""
    records = read_jsonl_metrics(run_dir / METRICS_FILE)
    if config is not None:
        overrides = {key: config[key] for key in keys if key in config}
    elif failure is not None:  # failed before writing its config: show what the job was given
        constants = _sweep_constants(run_dir, root, unconfigured)
        given = [override for override in failure.overrides if override not in constants and "=" in override]
        overrides = {key: _parse_value(value) for key, value in (override.split("=", 1) for override in given)}
    else:
        overrides = {}
    num_steps = config.get("training.num_steps") if config is not None else None
    num_steps = num_steps if isinstance(num_steps, int) else None
    last_step = max(record["step"] for record in records) if records else None
    error = failure.error if failure is not None else None
    if error is None and last_step is None:
        error = f"no {METRICS_FILE}" if config is not None else f"no readable {CONFIG_FILE}"
    elif error is None and num_steps is not None and last_step is not None and last_step < num_steps:
        error = f"stopped at step {last_step} of {num_steps}"
    row = {
        "run_dir": str(run_dir.absolute()),
        "run": run_dir.relative_to(root).as_posix(),
        "status": "ok" if error is None else "failed",
        "error": error,
        "last_step": last_step,
        "num_steps": num_steps,
        **{name: _last(records, name) for name in FINAL_METRICS},
        **{name: _mean(records, name) for name in MEAN_METRICS},
    }
    return row, overrides


def _override_dtype(values: list[Any]) -> Any:
    """Returns the nullable dtype of a column of `values` (None: missing): `Int64`, `Float64`, `boolean`, `string`.

    Values of mixed types, or lists, make an object column.
    """
    present = [value for value in values if value is not None]
    if not present:
        return object
    if all(isinstance(value, bool) for value in present):
        return "boolean"
    if any(isinstance(value, bool) for value in present):  # a bool is an int to isinstance
        return object
    if all(isinstance(value, int) for value in present):
        return "Int64"
    if all(isinstance(value, int | float) for value in present):
        return "Float64"
    if all(isinstance(value, str) for value in present):
        return "string"
    return object


def load_sweep(sweep_dir: str | Path) -> "pd.DataFrame":
    """Returns one row per run under `sweep_dir`, in natural order of their paths.

    A run is a directory under `sweep_dir` (itself included, hidden ones left out) holding `config.yaml` or `FAILED`
    (`simplexity.run_directory.find_run_dirs`).

    Columns, in order:
        run_dir: the run's directory, absolute (`simplexity.load_run` reads it).
        run: the run's directory relative to `sweep_dir` (`.` for the directory itself).
        status: `ok`, or `failed` when a `FAILED` file marks it, it logged no metrics, or its last logged step is
            below `training.num_steps` (a run still in progress shows as `failed` too).
        error: the error a `FAILED` file records, or what is missing; NA for a run that is `ok`.
        last_step, num_steps: the last logged step and the step the run was to end at (`Int64`, NA if unknown).
        loss, validation/loss, validation/excess_loss: the last logged values (NaN where none).
        steps_per_second: the mean over the log.
        then one column per config key that tells the runs apart (see `differing_keys`), by its dotted name, of
            a nullable dtype: NA where a run's config lacks the key or sets it to null. A job that failed before
            writing its config shows the overrides it was given that its sweep's other jobs were not.

    Example:
        >>> table = load_sweep("multirun/2024-05-01/12-00-00")
        >>> table.groupby("predictive_model.name")["validation/loss"].min()

    Raises:
        FileNotFoundError: when `sweep_dir` is not a directory.
    """
    import pandas as pd

    root = Path(sweep_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"sweep_dir={str(sweep_dir)!r}: not a directory")
    run_dirs = find_run_dirs(root, (CONFIG_FILE, FAILED_FILE))
    configs = {run_dir: latest_config(run_dir) for run_dir in run_dirs}
    flat = {run_dir: flatten_config(config) for run_dir, config in configs.items() if config is not None}
    keys = differing_keys(list(flat.values()))
    failures = {run_dir: read_failure(run_dir) for run_dir in run_dirs}
    unconfigured = [failure for run_dir, failure in failures.items() if failure is not None and run_dir not in flat]
    rows, overrides = [], []
    for run_dir in run_dirs:
        row, given = _run_row(run_dir, root, flat.get(run_dir), keys, failures[run_dir], unconfigured)
        rows.append(row)
        overrides.append(given)
    table = pd.DataFrame(rows, columns=pd.Index(SWEEP_COLUMNS)).astype(
        {
            "error": "string",
            "last_step": "Int64",
            "num_steps": "Int64",
            **dict.fromkeys((*FINAL_METRICS, *MEAN_METRICS), float),
        }
    )
    columns = {}
    for name in dict.fromkeys(name for given in overrides for name in given):
        values = [given.get(name) for given in overrides]
        columns[name] = pd.Series(values, index=table.index, dtype=_override_dtype(values))
    return pd.concat([table, pd.DataFrame(columns, index=table.index)], axis=1)


def _present(value: Any) -> Any:
    """Returns `value`, or None where a table holds a missing one (None, NA or NaN)."""
    import pandas as pd

    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else value


def summarize_runs(root: str | Path) -> list[RunSummary]:
    """Returns the summary of every run under `root`: the rows of `load_sweep(root)`, in natural order of paths."""
    table = load_sweep(root)
    names = [str(name) for name in table.columns if name not in SWEEP_COLUMNS]
    summaries = []
    for record in table.to_dict("records"):
        row = {str(name): _present(value) for name, value in record.items()}
        summaries.append(
            RunSummary(
                run=row["run"],
                overrides={name: row[name] for name in names if row[name] is not None},
                status=row["status"],
                error=row["error"],
                last_step=row["last_step"],
                num_steps=row["num_steps"],
                loss=row["loss"],
                validation_loss=row["validation/loss"],
                excess_loss=row["validation/excess_loss"],
                steps_per_second=row["steps_per_second"],
            )
        )
    return summaries


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _format_number(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(summaries: Sequence[RunSummary]) -> str:
    """Returns the summaries as an aligned text table, then one line per failed run with its error."""
    header = ["run", "status", "loss", "val_loss", "excess_loss", "steps/s", "overrides"]
    rows = [
        [
            summary.run,
            summary.status,
            _format_number(summary.loss, ".4f"),
            _format_number(summary.validation_loss, ".4f"),
            _format_number(summary.excess_loss, ".4f"),
            _format_number(summary.steps_per_second, ".1f"),
            " ".join(f"{key}={_format_value(value)}" for key, value in summary.overrides.items()),
        ]
        for summary in summaries
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    numeric = {2, 3, 4, 5}

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    lines = [line(header), *(line(row) for row in rows)]
    lines += [f"{summary.run}: {summary.error}" for summary in summaries if summary.error is not None]
    return "\n".join(lines)


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def to_json(summaries: Sequence[RunSummary]) -> str:
    """Returns the summaries as a JSON list of objects (non-finite numbers as null, so that it is strict JSON)."""
    objects = [
        {
            "run": s.run,
            "status": s.status,
            "error": s.error,
            "last_step": s.last_step,
            "num_steps": s.num_steps,
            "loss": _finite_or_none(s.loss),
            "validation_loss": _finite_or_none(s.validation_loss),
            "excess_loss": _finite_or_none(s.excess_loss),
            "steps_per_second": _finite_or_none(s.steps_per_second),
            "overrides": {key: _finite_or_none(value) for key, value in s.overrides.items()},
        }
        for s in summaries
    ]
    return json.dumps(objects, indent=2, allow_nan=False)


def main(argv: Sequence[str] | None = None) -> int:
    """Prints the summary of the runs under the directory named on the command line; returns the exit code."""
    parser = argparse.ArgumentParser(description="Summarise every run under a sweep (multirun) directory.")
    parser.add_argument("directory", type=Path, help="a multirun directory, e.g. multirun/2024-05-01/12-00-00")
    parser.add_argument("--json", action="store_true", help="print a JSON list of runs instead of a table")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        print(f"error: {args.directory}: not a directory", file=sys.stderr)
        return 2
    summaries = summarize_runs(args.directory)
    if not summaries:
        print(f"error: {args.directory}: no run under it (no directory holds {CONFIG_FILE})", file=sys.stderr)
        return 2
    print(to_json(summaries) if args.json else format_table(summaries))
    return 0
