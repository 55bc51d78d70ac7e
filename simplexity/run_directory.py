"""The layout of a run directory: its file names, its config files in order, its checkpoints, and runs under a root.

A run directory is what `run_experiment.py` writes:

    config.yaml           the config of the run's first start; `config.1.yaml`, `config.2.yaml`, ... of each later one
    metrics.jsonl         one JSON record per logged step
    provenance.json       one record per start of a run in the directory
    checkpoints/<step>/   one orbax checkpoint per saved step (`persistence.checkpoint_dir`, here by default)
    mlflow_run.json       the MLflow run the run logs to, with `logging=mlflow`
    .lock                 the lock a run holds on the directory while it writes into it
    FAILED                the one-line error of a sweep's job that failed

This module knows names and paths only; what the files hold is read by their own readers (`read_jsonl_metrics`,
`read_provenance`, `simplexity.config.run_files`, `simplexity.run_record`).
"""

import re
from collections.abc import Sequence
from pathlib import Path

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.jsonl"
PROVENANCE_FILE = "provenance.json"
CHECKPOINT_DIR = "checkpoints"
MLFLOW_RUN_FILE = "mlflow_run.json"
LOCK_FILE = ".lock"
FAILED_FILE = "FAILED"

_CONFIG_NAME = re.compile(r"config(?:\.(\d+))?\.yaml")
_STEP_NAME = re.compile(r"0|[1-9]\d*")  # orbax names a complete checkpoint by its step; a partial one has a suffix


def natural_key(text: str) -> list[str | int]:
    """Returns a sort key that orders the numbers in `text` by value: `job_2` before `job_10`.

    Example:
        >>> sorted(["run_10", "run_2"], key=natural_key)
        ['run_2', 'run_10']
    """
    return [int(part) if index % 2 else part for index, part in enumerate(re.split(r"(\d+)", text))]


def _config_path(run_dir: str | Path, index: int) -> Path:
    """Returns the config file of the run's start number `index`: `config.yaml` for 0, else `config.INDEX.yaml`."""
    return Path(run_dir) / (CONFIG_FILE if index == 0 else f"config.{index}.yaml")


def config_paths(run_dir: str | Path) -> list[Path]:
    """Returns the run's config files, oldest first: `config.yaml`, then `config.N.yaml` by ascending N."""
    indexed = [
        (int(match.group(1) or 0), path)
        for path in Path(run_dir).glob("config*.yaml")
        if (match := _CONFIG_NAME.fullmatch(path.name)) and path.is_file()
    ]
    return [path for _, path in sorted(indexed)]


def next_config_path(run_dir: str | Path) -> Path:
    """Returns where a run starting now writes its config: `config.yaml`, or the first free `config.N.yaml`."""
    index = 0
    while _config_path(run_dir, index).exists():
        index += 1
    return _config_path(run_dir, index)


def checkpoint_steps(checkpoint_dir: str | Path) -> list[int]:
    """Returns the steps of the complete checkpoints in `checkpoint_dir`, ascending; none when it is missing.

    A complete checkpoint is a directory named by its step; a checkpoint being written
    (`STEP.orbax-checkpoint-tmp-...`) or one moved aside as damaged (`STEP.damaged`) is not one.
    """
    directory = Path(checkpoint_dir)
    if not directory.is_dir():
        return []
    return sorted(int(path.name) for path in directory.iterdir() if _STEP_NAME.fullmatch(path.name) and path.is_dir())


def _is_hidden(relative: Path) -> bool:
    """Returns whether a path relative to a searched root lies in a hidden directory (`.hydra`, `.submitit`)."""
    return any(part.startswith(".") for part in relative.parts)


def find_run_dirs(root: str | Path, markers: Sequence[str] = (CONFIG_FILE,), nested: bool = True) -> list[Path]:
    """Returns the run directories under `root`, in natural order of their paths relative to it (see `natural_key`).

    A run directory holds one of the files `markers`. Hidden directories (`.hydra`, `.submitit`) are neither runs nor
    searched. A `root` that is not a directory holds none.

    Arguments:
        root: the directory to search: a sweep's directory, say.
        markers: the names of the files that make a directory a run directory.
        nested: whether run directories are found at any depth under `root`, `root` itself included (links to
            directories are not followed); else only among its direct subdirectories.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    if nested:
        found = {path.parent for name in markers for path in root.rglob(name) if path.is_file()}
    else:
        found = {path for path in root.iterdir() if any((path / name).is_file() for name in markers)}
    runs = [path for path in found if not _is_hidden(path.relative_to(root))]
    return sorted(runs, key=lambda path: natural_key(path.relative_to(root).as_posix()))
