"""Destinations for the metrics logged during training: the console and a JSON-lines file."""

import datetime
import io
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from tqdm import tqdm


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


def _notify_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class JsonlLogger:
    """Appends one JSON object per logged step, `{"step": ..., **metrics}`, to a file.

    Appending keeps the records of an earlier run when a run resumes in the same directory. Every record starts on
    a line of its own: when the file ends in a line a crash or a full disk left unfinished, that line is ended
    first (kept as it is, for `read_jsonl_metrics` to skip) and said in one line through `notify`.

    Arguments:
        path: the file, created with its parent directory when missing.
        notify: receives the one-line notice of an unfinished last line; stderr by default.
    """

    def __init__(self, path: str | Path, notify: Callable[[str], None] = _notify_on_stderr):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        if self._ends_unfinished():
            self._file.write("\n")
            self._file.flush()
            notify(f"warning: {self.path}: its last line was unfinished (a crash or a full disk); ended it there")

    def _ends_unfinished(self) -> bool:
        """Whether the file is non-empty and does not end in a newline."""
        size = self.path.stat().st_size
        if size == 0:
            return False
        with self.path.open("rb") as existing:
            existing.seek(size - 1)
            return existing.read(1) != b"\n"

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


def read_jsonl_metrics(path: str | Path, notify: Callable[[str], None] = _notify_on_stderr) -> list[dict[str, Any]]:
    """Returns one record per step of those a `JsonlLogger` wrote to `path`, by step; none when there is no file.

    A run resumed from a checkpoint older than its last logged step logs the steps after the checkpoint again;
    for such a step the record written last (the resumed run's) replaces the earlier ones. A damaged line (one a
    crash or a full disk left unfinished, bytes that are not UTF-8, anything that is not a JSON object with an
    integer `step`) is skipped, and the skipped lines are named in one line through `notify` (stderr by default).
    Empty lines are not records and are passed over silently.
    """
    path = Path(path)
    if not path.is_file():
        return []
    by_step: dict[int, dict[str, Any]] = {}
    damaged: list[int] = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not raw.strip():
            continue
        record = _parse_record(raw)
        if record is None:
            damaged.append(number)
        else:
            by_step[record["step"]] = record
    if damaged:
        notify(f"warning: {path}: skipped {_count(damaged)} ({_ranges(damaged)}): not a complete metrics record")
    return [by_step[step] for step in sorted(by_step)]


def _parse_record(raw: bytes) -> dict[str, Any] | None:
    """Returns the record of one line, or None when it is not UTF-8 JSON of an object with an integer `step`."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if isinstance(record, dict) and isinstance(record.get("step"), int) and not isinstance(record["step"], bool):
        return record
    return None


def _count(lines: list[int]) -> str:
    return "1 damaged line" if len(lines) == 1 else f"{len(lines)} damaged lines"


def _ranges(lines: list[int]) -> str:
    """Returns `line 3` or `lines 3, 7-9`: the line numbers, consecutive ones as ranges."""
    spans: list[list[int]] = []
    for number in lines:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    text = ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in spans)
    return f"line {text}" if len(lines) == 1 else f"lines {text}"


class ConsoleLogger:
    """Shows a run's progress: on a terminal one line redrawn in place, otherwise one plain line per logged step.

    On a terminal (`stream.isatty()`) the line is a tqdm bar, redrawn with a carriage return at each logged step:
    step, percent done, loss, steps per second and ETA, and the validation loss. Elsewhere (a file, a pipe, a
    batch job's log) each logged step prints one line, flushed at once: percent done, step, loss, steps/s, ETA and
    the scalar metrics. Both print a line when a training chunk has compiled (`compiled`) and a closing line
    (`finish`). The display changes only when the host loop calls it, at logging points.

    Arguments:
        total_steps: the step the run ends at, for the percentage and the ETA.
        stream: where to print.
        start_step: the step the run starts (or resumes) at.
        run_dir: the run directory, named in the closing line; None to leave it out.
        terminal: whether to redraw one line in place; `stream.isatty()` when None.
    """

    def __init__(
        self,
        total_steps: int,
        stream: TextIO | None = None,
        start_step: int = 0,
        run_dir: str | Path | None = None,
        terminal: bool | None = None,
    ):
        self.total_steps = total_steps
        self._stream = sys.stdout if stream is None else stream
        self._start_step = start_step
        self._run_dir = run_dir
        self.terminal = _is_terminal(self._stream) if terminal is None else terminal
        self._bar: tqdm | None = None

    def log_config(self, config: dict[str, Any]) -> None:
        """Nothing: the run prints its summary itself."""

    def compiled(self, num_steps: int, seconds: float) -> None:
        """Prints that the compiled chunk of `num_steps` steps is ready, after `seconds` of compiling."""
        self._print(f"compiled the training step ({num_steps} steps per call) in {seconds:.1f} s")

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        """Shows the progress of `step`: redraws the bar on a terminal, else prints one line."""
        rate = metrics.get("steps_per_second", math.nan)
        if self.terminal:
            bar = self._terminal_bar()
            bar.update(step - bar.n)
            postfix = f"loss={metrics.get('loss', math.nan):.5f}"
            if "validation/loss" in metrics:
                postfix += f" val={metrics['validation/loss']:.5f}"
            bar.set_postfix_str(postfix + (f" {rate:.1f} steps/s" if math.isfinite(rate) else ""), refresh=True)
            return
        remaining = (self.total_steps - step) / rate if rate and math.isfinite(rate) else math.nan
        done = step / self.total_steps
        bar = "#" * round(20 * done) + "-" * (20 - round(20 * done))
        scalars = " ".join(
            f"{name}={value:.5g}"
            for name, value in metrics.items()
            if isinstance(value, float) and name not in {"loss", "steps_per_second"}
        )
        self._print(
            f"[{bar}] {done:4.0%} step {step}/{self.total_steps} loss={metrics.get('loss', math.nan):.5f} "
            f"{_rate(rate)} steps/s ETA {_duration(remaining)} | {scalars}"
        )

    def finish(self, step: int, metrics: dict[str, Any], wall_seconds: float) -> None:
        """Closes the bar and prints the closing line: the step reached, final loss, validation loss and wall time."""
        self.close()
        parts = [f"finished at step {step}/{self.total_steps}", f"loss={metrics.get('loss', math.nan):.5f}"]
        if "validation/loss" in metrics:
            parts.append(f"validation/loss={metrics['validation/loss']:.5f}")
        parts.append(f"wall time {_duration(wall_seconds)}")
        if self._run_dir is not None:
            parts.append(f"run directory {self._run_dir}")
        self._print("; ".join(parts))

    def log_artifacts(self, paths: Sequence[Path]) -> None:
        """Nothing: files are not printed."""

    def log_provenance(self, record: dict[str, Any]) -> None:
        """Nothing: the run prints its header itself."""

    def close(self, failed: bool = False) -> None:
        """Closes the bar (its last state stays on the terminal); a later line starts below it."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def _terminal_bar(self) -> tqdm:
        if self._bar is None:
            self._bar = tqdm(
                total=self.total_steps,
                initial=self._start_step,
                file=self._stream,
                unit="step",
                # A terminal that reports no width (a pseudo-terminal nobody sized) gets 100 columns, not none.
                dynamic_ncols=_columns(self._stream) > 0,
                ncols=None if _columns(self._stream) > 0 else 100,
                mininterval=0,  # it is redrawn only at logging points, each of which should show
                smoothing=0.3,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]",
            )
        return self._bar

    def _print(self, line: str) -> None:
        if self._bar is not None:
            self._bar.write(line, file=self._stream)  # above the bar, which is redrawn below it
        else:
            print(line, file=self._stream, flush=True)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a stream without isatty, or one already closed
        return False


def _columns(stream: TextIO) -> int:
    """The width of the terminal `stream` writes to; 0 where it reports none."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return 0


def _rate(steps_per_second: float) -> str:
    """Steps per second to one decimal, `?` before any step was timed."""
    return f"{steps_per_second:.1f}" if math.isfinite(steps_per_second) else "?"


def _duration(seconds: float) -> str:
    """`H:MM:SS` for a finite number of seconds, `?` otherwise."""
    return str(datetime.timedelta(seconds=round(seconds))) if math.isfinite(seconds) else "?"
