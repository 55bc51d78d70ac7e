"""Quiets what orbax prints after one of its reads or writes failed, which the command line reports in one line.

When one array of a checkpoint fails to read or write (a damaged file, a full disk), orbax closes its event loop
while TensorStore still completes the other arrays' operations. Their callbacks then fail with "Event loop is
closed" (printed through `sys.excepthook`), the coroutines left unfinished are reported when collected (through
`sys.unraisablehook`, a "was never awaited" warning, or asyncio's "Task exception was never retrieved" log), at
any moment after the failure and up to the interpreter's exit. The failure itself reaches the caller as an
exception (`simplexity.persistence.checkpointer`), which the command line reports in one line.
"""

import logging
import os
import sys
import warnings
from typing import Any

_ORBAX_SOURCE = f"{os.sep}orbax{os.sep}"


def is_abandoned_orbax_io(error: BaseException | None, origin: object = None) -> bool:
    """Returns whether `error` (raised in `origin`, if known) is fallout of orbax I/O abandoned on a failure."""
    if isinstance(error, RuntimeError) and str(error) == "Event loop is closed":
        return True
    code = getattr(origin, "cr_code", None)
    return code is not None and _ORBAX_SOURCE in code.co_filename


def _raised_in_orbax(error: BaseException | None) -> bool:
    """Returns whether `error`, or an exception it was raised from, passed through orbax's code."""
    while error is not None:
        trace = error.__traceback__
        while trace is not None:
            if _ORBAX_SOURCE in trace.tb_frame.f_code.co_filename:
                return True
            trace = trace.tb_next
        error = error.__cause__ or error.__context__
    return False


class _DropOrbaxTaskReports(logging.Filter):
    """Drops asyncio's "... exception was never retrieved" records of orbax's tasks and futures."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (_ORBAX_SOURCE in record.getMessage() or _raised_in_orbax(error))


def silence_abandoned_orbax_io() -> None:
    """Keeps the fallout of `is_abandoned_orbax_io` off the console, process-wide; every other error prints.

    For the command line, which owns its process; a notebook keeps Python's hooks as they are.
    """
    print_exception, print_unraisable = sys.excepthook, sys.unraisablehook

    def excepthook(kind: type[BaseException], error: BaseException, trace: Any) -> None:
        if not is_abandoned_orbax_io(error):
            print_exception(kind, error, trace)

    def unraisablehook(unraisable: Any) -> None:
        if not is_abandoned_orbax_io(unraisable.exc_value, unraisable.object):
            print_unraisable(unraisable)

    sys.excepthook, sys.unraisablehook = excepthook, unraisablehook
    # A run has no coroutines of its own: the ones never awaited are orbax's.
    warnings.filterwarnings("ignore", message=r"coroutine '.*' was never awaited", category=RuntimeWarning)
    logging.getLogger("asyncio").addFilter(_DropOrbaxTaskReports())
