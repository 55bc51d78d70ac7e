"""Stopping signals: SIGTERM stops a run the way Ctrl-C does, and a checkpoint being written is finished first.

Schedulers (SLURM, Kubernetes, most batch systems) send SIGTERM at preemption and SIGKILL a grace period later.
The command line turns SIGTERM into `Terminated`, a `KeyboardInterrupt`, so that every place that stops a run on
Ctrl-C stops it on SIGTERM too; a notebook keeps Python's handlers as they are.
"""

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

# The shell's convention for a process stopped by a signal: 128 + its number.
INTERRUPTED_EXIT_CODE = 128 + signal.SIGINT
TERMINATED_EXIT_CODE = 128 + signal.SIGTERM
_STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived (with `stop_on_sigterm` installed): the run stops as on Ctrl-C, exit code 143."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise Terminated("SIGTERM")


def stop_on_sigterm() -> None:
    """Makes SIGTERM raise `Terminated` in the main thread, for a command that owns its process."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def exit_code_of(interrupt: KeyboardInterrupt) -> int:
    """Returns 143 for `Terminated` (SIGTERM) and 130 for any other `KeyboardInterrupt` (Ctrl-C)."""
    return TERMINATED_EXIT_CODE if isinstance(interrupt, Terminated) else INTERRUPTED_EXIT_CODE


@contextlib.contextmanager
def stopping_signals_deferred() -> Iterator[None]:
    """Holds SIGINT and SIGTERM back while the block runs, then delivers each that arrived to its own handler.

    A checkpoint is written inside such a block, so that a stop never leaves a partial one: the signal takes
    effect (a `KeyboardInterrupt`, say) as the block ends. Outside the main thread, where Python cannot change
    handlers, the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        del frame
        arrived.append(signum)

    previous = {}
    for number in _STOPPING_SIGNALS:
        handler = signal.getsignal(number)
        if handler is not None:  # None: installed outside Python, so it cannot be put back
            previous[number] = signal.signal(number, hold)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in dict.fromkeys(arrived):
            signal.raise_signal(number)
