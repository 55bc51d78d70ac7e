"""What an MLflow logger holds back while its tracking store does not answer, and when it tries again.

A tracking server that goes away mid-run must not stop training: the run's own files (`metrics.jsonl`,
checkpoints, `provenance.json`) are complete without it. The logger says so once, keeps the calls it could not
make, in order, up to a bound, and makes them when the server answers again.
"""

import collections
import math
import sys
import time
from collections.abc import Callable

from simplexity.errors import one_line
from simplexity.logging.tracking_uri import server_answer

# At most this many metric values are held (about 200 bytes each); the oldest go first, as metrics.jsonl has them.
HELD_VALUES_LIMIT = 200_000
# While the server does not answer, it is asked again at most this often, each time with a short timeout.
RETRY_SECONDS = 10.0
PROBE_TIMEOUT_SECONDS = 2.0
_REASON_CHARS = 160


class TrackingOutage:
    """The calls to a tracking store held back since it stopped answering, replayed in order when it answers.

    Arguments:
        uri: the tracking URI; an HTTP(S) server is asked `GET /health` (`server_answer`) before calls are replayed.
        failures: the exceptions with which a call to the store fails (MLflow's, and `OSError`).
        limit: the most metric values held; older ones are dropped beyond it.
    """

    def __init__(self, uri: str, failures: tuple[type[Exception], ...], limit: int = HELD_VALUES_LIMIT):
        self.uri = uri
        self.failures = failures
        self.limit = limit
        self.since_step: int | None = None
        self.reason = ""
        self.dropped = 0
        self._calls: collections.deque[tuple[Callable[[], object], int]] = collections.deque()
        self._held = 0
        self._warned = False
        self._last_try = -math.inf

    @property
    def active(self) -> bool:
        """Whether calls are held back."""
        return bool(self._calls)

    def begin(self, error: BaseException, step: int | None) -> None:
        """Records that a call failed with `error` (at `step`); the first time in the run, says so on stderr."""
        reason = one_line(error)
        self.reason = reason if len(reason) <= _REASON_CHARS else reason[: _REASON_CHARS - 3] + "..."
        if self.since_step is None:
            self.since_step = step
        self._last_try = time.monotonic()
        if not self._warned:
            self._warned = True
            at = f" at step {step}" if step is not None else ""
            print(
                f"warning: MLflow at {self.uri} did not answer{at} ({self.reason}); training goes on, metrics.jsonl "
                f"keeps every step, and the MLflow calls are held and retried every {RETRY_SECONDS:g} s",
                file=sys.stderr,
                flush=True,
            )

    def hold(self, call: Callable[[], object], values: int = 1) -> None:
        """Keeps `call` (which logs `values` metric values) for later; drops the oldest metrics beyond the limit."""
        self._calls.append((call, values))
        self._held += values
        while self._held > self.limit and len(self._calls) > 1:
            _, old = self._calls.popleft()
            self._held -= old
            self.dropped += old

    def retry(self, force: bool = False) -> bool:
        """Replays the held calls if the store answers now; returns whether none is left held.

        Asks at most every `RETRY_SECONDS` unless `force`. A call that fails again stays held, with those after it.
        """
        if not self._calls:
            return True
        if not force and time.monotonic() - self._last_try < RETRY_SECONDS:
            return False
        self._last_try = time.monotonic()
        if self.uri.startswith(("http://", "https://")):
            reason = server_answer(self.uri, PROBE_TIMEOUT_SECONDS)
            if reason is not None:
                self.reason = reason
                return False
        replayed = 0
        while self._calls:
            call, values = self._calls[0]
            try:
                call()
            except self.failures as error:
                self.begin(error, None)
                return False
            self._calls.popleft()
            self._held -= values
            replayed += 1
        dropped = f"; {self.dropped} older metric values were dropped (metrics.jsonl has them)" if self.dropped else ""
        since = f" since step {self.since_step}" if self.since_step is not None else ""
        print(f"MLflow at {self.uri} answers again: made the {replayed} calls held{since}{dropped}", flush=True)
        self.since_step, self.dropped = None, 0
        return True
