"""Destinations for the metrics logged during training: the console and a JSON-lines file."""

import datetime
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO


class MetricsLogger(Protocol):
    """Receives the run's configuration and provenance once, then one dictionary of metrics per logged step."""

    def log_config(self, config: dict[str, Any]) -> None:
        """Records the resolved configuration (nested dictionary) and hyperparameters."""
        ...

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Records the metrics of `step`; values are floats, or lists of floats for per-position metrics."""
        ...

    def log_artifacts(self, paths: Sequence[Path]) -> None:
        """Records copies of the files among `paths` (a path that is not a file is skipped)."""
        ...

    def log_provenance(self, record: dict[str, Any]) -> None:
        """Records where and from what this start of the run came (commit, packages, devices, command, ...)."""
        ...

    def close(self, failed: bool = False) -> None:
        """Flushes and releases the destination; `failed`: the run ended in an error."""
        ...


class JsonlLogger:
    """Appends one JSON object per logged step, `{"step": ..., **metrics}`, to a file.

    Appending keeps the records of an earlier run when a run resumes in the same directory.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def log_config(self, config: dict[str, Any]) -> None:
        """Nothing: the run directory's `config.yaml` holds the configuration."""

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Writes one line and flushes it, so a crash loses no logged step."""
        self._file.write(json.dumps({"step": step, **metrics}) + "\n")
        self._file.flush()

    def log_artifacts(self, paths: Sequence[Path]) -> None:
        """Nothing: the files are in the run directory already."""

    def log_provenance(self, record: dict[str, Any]) -> None:
        """Nothing: the run directory keeps the provenance itself."""

    def close(self, failed: bool = False) -> None:
        """Closes the file."""
        self._file.close()


def read_jsonl_metrics(path: str | Path) -> list[dict[str, Any]]:
    """Returns one record per step of those a `JsonlLogger` wrote to `path`, by step; none when there is no file.

    A run resumed from a checkpoint older than its last logged step logs the steps after the checkpoint again;
    for such a step the record written last (the resumed run's) replaces the earlier ones. A line a crash left
    unfinished, or anything that is not a record with an integer `step`, is skipped.
    """
    path = Path(path)
    if not path.is_file():
        return []
    by_step: dict[int, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            by_step[record["step"]] = record
    return [by_step[step] for step in sorted(by_step)]


class ConsoleLogger:
    """Prints one progress line per logged step: percent done, step, loss, steps/s, ETA and scalar metrics.

    Arguments:
        total_steps: the step the run ends at, for the percentage and the ETA.
        stream: where to print.
    """

    def __init__(self, total_steps: int, stream: TextIO = sys.stdout):
        self.total_steps = total_steps
        self._stream = stream

    def log_config(self, config: dict[str, Any]) -> None:
        """Nothing: the run prints its summary itself."""

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Prints the progress line of `step`."""
        rate = metrics.get("steps_per_second", math.nan)
        remaining = (self.total_steps - step) / rate if rate and math.isfinite(rate) else math.nan
        eta = str(datetime.timedelta(seconds=round(remaining))) if math.isfinite(remaining) else "?"
        done = step / self.total_steps
        bar = "#" * round(20 * done) + "-" * (20 - round(20 * done))
        scalars = " ".join(
            f"{name}={value:.5g}"
            for name, value in metrics.items()
            if isinstance(value, float) and name not in {"loss", "steps_per_second"}
        )
        print(
            f"[{bar}] {done:4.0%} step {step}/{self.total_steps} loss={metrics.get('loss', math.nan):.5f} "
            f"{rate:.1f} steps/s ETA {eta} | {scalars}",
            file=self._stream,
            flush=True,
        )

    def log_artifacts(self, paths: Sequence[Path]) -> None:
        """Nothing: files are not printed."""

    def log_provenance(self, record: dict[str, Any]) -> None:
        """Nothing: the run prints its header itself."""

    def close(self, failed: bool = False) -> None:
        """Nothing to release."""
