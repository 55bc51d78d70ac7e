"""Destinations for the metrics logged during training."""

import json
import sys
from pathlib import Path
from typing import Protocol, TextIO


class MetricsLogger(Protocol):
    """Receives one dictionary of scalar metrics per logged step."""

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Records the metrics of `step`."""
        ...

    def close(self) -> None:
        """Flushes and releases the destination."""
        ...


class JsonlLogger:
    """Appends one JSON object per logged step, `{"step": ..., **metrics}`, to a file.

    Appending keeps the records of an earlier run when a run resumes in the same directory.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Writes one line and flushes it, so a crash loses no logged step."""
        self._file.write(json.dumps({"step": step, **metrics}) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Closes the file."""
        self._file.close()


class ConsoleLogger:
    """Prints one line per logged step: step, loss and the other metrics."""

    def __init__(self, stream: TextIO = sys.stdout):
        self._stream = stream

    def log(self, step: int, metrics: dict[str, float]) -> None:
        """Prints the metrics of `step`."""
        fields = " ".join(f"{name}={value:.5g}" for name, value in metrics.items())
        print(f"step {step}: {fields}", file=self._stream, flush=True)

    def close(self) -> None:
        """Nothing to release."""
