"""One table of every run under a sweep directory: overrides, final losses, steps/s and status.

`python scripts/summarize_runs.py DIR [--json]` (or `python -m simplexity.sweeps DIR`) prints it. A run is
a directory holding `config.yaml` (what `run_experiment.py` writes once the config is valid) or a `FAILED` file (a
job the sweep recorded as failed, see `simplexity.sweeps.failed_jobs`).
"""

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from simplexity.logging import flatten_config, read_jsonl_metrics
from simplexity.sweeps.failed_jobs import FAILED_FILE, FailedJob, read_failure

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
MULTIRUN_FILE = "multirun.yaml"
_RESUMED_CONFIG = re.compile(r"config\.(\d+)\.yaml")


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
        loss, validation_loss, excess_loss: the last logged values; `steps_per_second`: their mean over the log.
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


def _natural_key(path: Path) -> list[Any]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", path.as_posix())]


def find_run_dirs(root: str | Path) -> list[Path]:
    """Returns every directory under `root` (itself included) holding `config.yaml` or `FAILED`, in natural order.

    Hidden directories (`.hydra`, `.submitit`) are neither runs nor searched.
    """
    root = Path(root)
    found = {
        path.parent
        for name in (CONFIG_FILE, FAILED_FILE)
        for path in root.rglob(name)
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts[:-1])
    }
    return sorted(found, key=lambda path: _natural_key(path.relative_to(root)))


def latest_config(run_dir: Path) -> dict[str, Any] | None:
    """Returns the run's resolved config: `config.N.yaml` of the latest resume, else `config.yaml`; None if none."""
    resumed = [(int(m.group(1)), p) for p in run_dir.glob("config.*.yaml") if (m := _RESUMED_CONFIG.fullmatch(p.name))]
    path = max(resumed)[1] if resumed else run_dir / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        content = OmegaConf.to_container(OmegaConf.load(path))
    except Exception:  # a half-written or foreign file: the run shows as failed, the others are still listed
        return None
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


def summarize_runs(root: str | Path) -> list[RunSummary]:
    """Returns the summary of every run under `root` (see `find_run_dirs`), in natural order of their paths."""
    root = Path(root)
    run_dirs = find_run_dirs(root)
    configs = {run_dir: latest_config(run_dir) for run_dir in run_dirs}
    flat = {run_dir: flatten_config(config) for run_dir, config in configs.items() if config is not None}
    keys = differing_keys(list(flat.values()))
    failures = {run_dir: read_failure(run_dir) for run_dir in run_dirs}
    unconfigured = [failure for run_dir, failure in failures.items() if failure is not None and run_dir not in flat]
    summaries = []
    for run_dir in run_dirs:
        records = read_jsonl_metrics(run_dir / METRICS_FILE)
        failure = failures[run_dir]
        config = flat.get(run_dir)
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
        summaries.append(
            RunSummary(
                run=run_dir.relative_to(root).as_posix(),
                overrides=overrides,
                status="ok" if error is None else "failed",
                error=error,
                last_step=last_step,
                num_steps=num_steps,
                loss=_last(records, "loss"),
                validation_loss=_last(records, "validation/loss"),
                excess_loss=_last(records, "validation/excess_loss"),
                steps_per_second=_mean(records, "steps_per_second"),
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
