"""Runs a Hydra application so that a user's mistake ends in one line on stderr, not a traceback."""

import functools
import math
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from simplexity.config.validation import GROUP_OF_NODE
from simplexity.errors import StorageError, UserError, one_line
from simplexity.interruption import INTERRUPTED_EXIT_CODE, exit_code_of, stop_on_sigterm
from simplexity.persistence.orbax_fallout import silence_abandoned_orbax_io
from simplexity.sweeps.failed_jobs import announce_failure, record_failure

USER_ERROR_EXIT_CODE = UserError.exit_code
# Read before `run_reporting_user_errors` sets the variable for Hydra's sake.
_USER_WANTS_TRACEBACK = os.environ.get("HYDRA_FULL_ERROR") == "1"
# Set when Hydra hands the composed config to the task: errors before it are the command line's.
_TASK_STARTED = False
# When this command started (this module is imported before Hydra creates the run directory); a directory whose
# status changed since was made (or touched) by this command. One second of slack covers coarse file clocks.
_COMMAND_STARTED_AT = time.time() - 1.0


def _override_key(group: str, option: str) -> str:
    """Returns the key as the command line typed it for choosing `option` of `group` (`group@package`, say)."""
    pattern = re.compile(rf"[+~]*({re.escape(group)}(@[\w.]+)?)={re.escape(option)}")
    for argument in sys.argv[1:]:
        match = pattern.fullmatch(argument)
        if match:
            return match.group(1)
    return group


# Configs that Hydra plugins ship, which the shipped launcher and sweeper options extend: the extra that installs each.
PLUGIN_CONFIGS = {
    "hydra/launcher/submitit_local": ("hydra-submitit-launcher", "sweeps"),
    "hydra/launcher/submitit_slurm": ("hydra-submitit-launcher", "sweeps"),
    "hydra/sweeper/optuna": ("hydra-optuna-sweeper", "sweeps"),
}
_MISSING_PLUGIN = re.compile(r"In '(hydra/\w+)/(\w+)': Could not load '([\w/]+)'")


def _missing_plugin(error: BaseException) -> str | None:
    """Returns the line for an option whose Hydra plugin is not installed (a missing extra), or None."""
    match = _MISSING_PLUGIN.search(str(error))
    if match is None or match.group(3) not in PLUGIN_CONFIGS:
        return None
    group, option = match.group(1), match.group(2)
    package, extra = PLUGIN_CONFIGS[match.group(3)]
    return f'{group}={option}: needs {package}, which is not installed: pip install "simplexity[{extra}]"'


def describe_user_error(error: BaseException) -> str:
    """Returns a one-line description of a configuration mistake."""
    missing_plugin = _missing_plugin(error)
    if missing_plugin is not None:
        return missing_plugin
    if _is_run_directory_error(error):
        assert isinstance(error, OSError)
        return f"hydra.run.dir: {error.filename} cannot be created ({error.strerror})"
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options is not None:
        path = PurePosixPath(error.missing_cfg_file)
        group = str(path.parent)
        allowed = ", ".join(error.options) if error.options else "none"
        key = _override_key(group, path.name)
        return f"{key}={path.name}: no such option in config group '{group}'; available: {allowed}"
    if isinstance(error, OverrideParseException):
        return f"{error.override}: cannot parse this override: {one_line(error)}"
    cause = error.__cause__
    cause_key = getattr(cause, "full_key", None)
    if isinstance(error, ConfigCompositionException) and isinstance(cause, OmegaConfBaseException) and cause_key:
        if isinstance(cause, ConfigKeyError | ConfigAttributeError):
            return f"{cause_key}: no such key in the config; add a new key with +{cause_key}=VALUE"
        group = GROUP_OF_NODE.get(cause_key)
        value = re.search(r"value: (\S+)", str(cause))
        if group is not None and value is not None:
            return f"{cause_key}={value.group(1)}: is a config node; choose one with {group}={value.group(1)}"
        return f"{cause_key}: {str(cause).strip().splitlines()[0]}"
    full_key = getattr(error, "full_key", None)
    if isinstance(error, OmegaConfBaseException) and full_key:
        return f"{full_key}: {one_line(error)}"
    message = one_line(error)
    if error.__cause__ is not None:
        message += f" ({one_line(error.__cause__)})"
    return message


def _exit_with(message: str, code: int | None = None) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(USER_ERROR_EXIT_CODE if code is None else code)


def report_config_errors(task: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """Wraps a Hydra task function so that a user's mistake or a stopped run ends in one line on stderr.

    In a single run, a `UserError` exits with its code: 2 for a `ConfigError`, 3 for a non-finite loss.
    In a multirun the job prints `error: job N (OVERRIDES): MESSAGE`, writes it to a `FAILED` file in its directory
    and returns an infinite loss, so that the sweep runs its other jobs (an optimising sweeper steers away; optuna
    2.x cannot take NaN); `simplexity.sweeps.FailedJobsCallback` makes the sweep's exit code non-zero.
    """

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> Any:
        global _TASK_STARTED
        _TASK_STARTED = True
        try:
            return task(cfg)
        except UserError as error:
            if _USER_WANTS_TRACEBACK:
                raise
            hydra_config = HydraConfig.get()
            if hydra_config.mode == RunMode.MULTIRUN:
                overrides = [str(override) for override in hydra_config.overrides.task]
                failure = record_failure(hydra_config.runtime.output_dir, hydra_config.job.num, overrides, str(error))
                announce_failure(failure)
                return math.inf
            pattern = OmegaConf.to_container(hydra_config.run, resolve=False)["dir"]  # type: ignore[index]
            remove_if_created_empty(Path(hydra_config.runtime.output_dir), computed_parent_count(str(pattern)))
            _exit_with(str(error), error.exit_code)

    return wrapped


def remove_if_created_empty(directory: Path, computed_parents: int = 0) -> None:
    """Removes `directory` if it is empty and this command made it, then up to `computed_parents` empty parents.

    Hydra makes the run directory before the task checks the config, so a rejected config would otherwise leave
    an empty directory behind, and with the default `outputs/DATE/TIME` an empty `DATE/` above it. The parents
    removed are those whose names the `hydra.run.dir` pattern computes (`${now:...}`, see `computed_parent_count`):
    a parent's status time changes whenever an entry is added, so the clock cannot tell a parent made now from an
    empty one made earlier, and a parent the pattern names literally (`outputs/`) is the user's and stays.
    """
    try:
        if not directory.is_dir() or any(directory.iterdir()) or directory.stat().st_ctime < _COMMAND_STARTED_AT:
            return
        directory.rmdir()
        for parent in list(directory.parents)[:computed_parents]:
            if any(parent.iterdir()):
                break
            parent.rmdir()
    except OSError:
        pass  # nothing was written there; a directory that cannot be inspected or removed is left as it is


def computed_parent_count(pattern: str) -> int:
    """Returns how many of the run directory's parents the pattern computes: its trailing interpolated components.

    `outputs/${now:%Y-%m-%d}/${now:%H-%M-%S}` computes one parent (the date), below the literal `outputs`.
    """
    components = [component for component in re.split(r"/(?![^{]*})", pattern) if component]
    count = 0
    for component in reversed(components[:-1]):
        if "${" not in component:
            break
        count += 1
    return count


def run_reporting_user_errors(app: Callable[[], Any]) -> None:
    """Calls a `@hydra.main` application; a configuration mistake exits with code 2 and one line on stderr.

    Other exceptions (bugs) keep their traceback. With `HYDRA_FULL_ERROR=1` set by the user, configuration
    mistakes keep theirs too.
    """
    # Make Hydra re-raise instead of printing its own multi-line report, so the error is reported here.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if not _USER_WANTS_TRACEBACK:
        silence_abandoned_orbax_io()
    stop_on_sigterm()  # a scheduler's preemption stops the run as Ctrl-C does
    try:
        _report_user_errors(app)
    except SystemExit as stop:
        if stop.code in (None, 0):
            raise
        # A failure whose one line is printed: leave without the interpreter's teardown, where the asynchronous
        # reads and writes orbax abandoned on a failed restore or save would print "Event loop is closed"
        # tracebacks after that line. Every file of the run is closed by now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(stop.code if isinstance(stop.code, int) else 1)


def _report_user_errors(app: Callable[[], Any]) -> None:
    try:
        app()
    except KeyboardInterrupt as interrupt:
        stopped = _stopped_run(interrupt)
        if stopped is not None:  # a second signal while the stopped run was finishing: its line still says all
            _exit_with(str(stopped), stopped.exit_code)
        # Ctrl-C or SIGTERM outside the training loop (which reports its own step): what is written is kept.
        what = "interrupted" if exit_code_of(interrupt) == INTERRUPTED_EXIT_CODE else "terminated by SIGTERM"
        _exit_with(f"{what} before training started or after it ended", exit_code_of(interrupt))
    except Exception as error:
        # Before the task starts, anything that fails is the command line's or the config's fault (Hydra raises
        # a plain ValueError for some malformed overrides); once it has started, only known user errors are.
        is_user_error = isinstance(error, UserError | HydraException | OmegaConfBaseException) or not _TASK_STARTED
        if _USER_WANTS_TRACEBACK or not is_user_error:
            raise
        _exit_with(describe_user_error(error), _exit_code(error))


def _stopped_run(interrupt: KeyboardInterrupt) -> UserError | None:
    """Returns the error a stopped run was reporting when `interrupt` came (it is `interrupt`'s context), or None."""
    error = interrupt.__context__
    while error is not None and not isinstance(error, UserError):
        error = error.__context__
    return error


def _is_run_directory_error(error: BaseException) -> bool:
    """Whether Hydra could not make the run directory (under a file, or in a read-only parent), before the task.

    A missing config file is an `OSError` too, but a Hydra one.
    """
    return isinstance(error, OSError) and not isinstance(error, HydraException) and not _TASK_STARTED


def _exit_code(error: BaseException) -> int | None:
    """Returns the exit code of a reported user error; None for the default (a config mistake)."""
    if isinstance(error, UserError):
        return error.exit_code
    return StorageError.exit_code if _is_run_directory_error(error) else None
