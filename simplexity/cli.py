"""Runs a Hydra application so that a user's mistake ends in one line on stderr, not a traceback."""

import contextlib
import functools
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException

from simplexity.config.validation import GROUP_OF_NODE
from simplexity.errors import StorageError, UserError, one_line
from simplexity.interruption import INTERRUPTED_EXIT_CODE, TERMINATED_EXIT_CODE, exit_code_of, stop_on_sigterm
from simplexity.persistence.orbax_fallout import silence_abandoned_orbax_io
from simplexity.sweeps.failed_jobs import announce_failure, record_failure

USER_ERROR_EXIT_CODE = UserError.exit_code
# A job stopped by these (Ctrl-C, SIGTERM) stops the whole sweep.
STOPPING_EXIT_CODES = (INTERRUPTED_EXIT_CODE, TERMINATED_EXIT_CODE)


@dataclass(frozen=True)
class Invocation:
    """One invocation of a command: its command line, when it started, and whether the user wants tracebacks.

    Arguments:
        arguments: the command line after the program's name (`sys.argv[1:]`).
        started_at: when the command started (`time.time()`), one second early: a directory whose status changed
            since was made (or touched) by this command; the second of slack covers coarse file clocks.
        wants_traceback: whether the user set `HYDRA_FULL_ERROR=1`, so that configuration mistakes keep their
            traceback.
    """

    arguments: tuple[str, ...]
    started_at: float
    wants_traceback: bool

    @classmethod
    def of_this_process(cls) -> "Invocation":
        """Returns the invocation of the running command, read from `sys.argv`, the clock and the environment.

        Made before Hydra creates the run directory, and before `run_reporting_user_errors` sets
        `HYDRA_FULL_ERROR` for Hydra's sake.
        """
        return cls(tuple(sys.argv[1:]), time.time() - 1.0, os.environ.get("HYDRA_FULL_ERROR") == "1")


def _override_key(group: str, option: str, arguments: Sequence[str]) -> str:
    """Returns the key as `arguments` typed it for choosing `option` of `group` (`group@package`, say)."""
    pattern = re.compile(rf"[+~]*({re.escape(group)}(@[\w.]+)?)={re.escape(option)}")
    for argument in arguments:
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


def describe_user_error(error: BaseException, arguments: Sequence[str] = (), task_started: bool = False) -> str:
    """Returns a one-line description of a configuration mistake.

    Arguments:
        error: the mistake.
        arguments: the command line after the program's name, to name an override as it was typed.
        task_started: whether Hydra had handed the composed config to the task; an `OSError` before that is the
            run directory's.
    """
    missing_plugin = _missing_plugin(error)
    if missing_plugin is not None:
        return missing_plugin
    if _is_run_directory_error(error, task_started):
        assert isinstance(error, OSError)
        return f"hydra.run.dir: {error.filename} cannot be created ({error.strerror})"
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options is not None:
        path = PurePosixPath(error.missing_cfg_file)
        group = str(path.parent)
        allowed = ", ".join(error.options) if error.options else "none"
        key = _override_key(group, path.name, arguments)
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


def _run_task(task: Callable[[DictConfig], Any], cfg: DictConfig, invocation: Invocation) -> Any:
    """Runs the Hydra task `task` on `cfg` so that a user's mistake or a stopped run ends in one line on stderr.

    In a single run, a `UserError` exits with its code: 2 for a `ConfigError`, 3 for a non-finite loss.
    In a multirun the job prints `error: job N (OVERRIDES): MESSAGE`, writes it to a `FAILED` file in its directory
    and returns an infinite loss, so that the sweep runs its other jobs (an optimising sweeper steers away; optuna
    2.x cannot take NaN); `simplexity.sweeps.FailedJobsCallback` makes the sweep's exit code non-zero. A job
    stopped by Ctrl-C or SIGTERM is recorded the same way and then stops the whole sweep with its exit code (130 or
    143). A rejected single run leaves no directory it made, with `HYDRA_FULL_ERROR=1` too.
    """
    try:
        return task(cfg)
    except UserError as error:
        hydra_config = HydraConfig.get()
        if hydra_config.mode == RunMode.MULTIRUN:
            if invocation.wants_traceback:
                raise
            overrides = [str(override) for override in hydra_config.overrides.task]
            failure = record_failure(hydra_config.runtime.output_dir, hydra_config.job.num, overrides, str(error))
            announce_failure(failure)
            if error.exit_code in STOPPING_EXIT_CODES:  # Ctrl-C or SIGTERM stops the sweep, not only its job
                sys.exit(error.exit_code)
            return math.inf
        pattern = OmegaConf.to_container(hydra_config.run, resolve=False)["dir"]  # type: ignore[index]
        output_dir = Path(hydra_config.runtime.output_dir)
        remove_if_created_empty(output_dir, invocation.started_at, computed_parent_count(str(pattern)))
        if invocation.wants_traceback:
            raise
        _exit_with(str(error), error.exit_code)


def remove_if_created_empty(directory: Path, created_since: float, computed_parents: int = 0) -> None:
    """Removes `directory` if it is empty and this command made it, then up to `computed_parents` empty parents.

    This command made it if its status changed at or after `created_since` (`Invocation.started_at`). Hydra makes
    the run directory before the task checks the config, so a rejected config would otherwise leave an empty
    directory behind, and with the default `outputs/DATE/TIME` an empty `DATE/` above it. The parents
    removed are those whose names the `hydra.run.dir` pattern computes (`${now:...}`, see `computed_parent_count`):
    a parent's status time changes whenever an entry is added, so the clock cannot tell a parent made now from an
    empty one made earlier, and a parent the pattern names literally (`outputs/`) is the user's and stays.
    """
    try:
        if not directory.is_dir() or any(directory.iterdir()) or directory.stat().st_ctime < created_since:
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


def run_reporting_user_errors(task: Callable[[DictConfig], Any], *, config_path: str, config_name: str) -> None:
    """Runs `task` as the Hydra application of `config_name` in `config_path`, reporting a user's mistake in one line.

    A configuration mistake exits with code 2 and one line on stderr; a user's mistake in the task ends as
    `_run_task` says. Other exceptions (bugs) keep their traceback. With `HYDRA_FULL_ERROR=1` set by the user,
    configuration mistakes keep theirs too.

    Arguments:
        task: the Hydra task function: takes the composed config.
        config_path: the directory where Hydra finds the configs (`simplexity.config.loading.CONFIG_DIR`).
        config_name: the primary config (`train`, `analyze`).
    """
    invocation = Invocation.of_this_process()
    # Whether Hydra handed the composed config to the task: errors before it are the command line's.
    task_started = False

    @functools.wraps(task)
    def reporting_task(cfg: DictConfig) -> Any:
        nonlocal task_started
        task_started = True
        return _run_task(task, cfg, invocation)

    app = hydra.main(config_path=config_path, config_name=config_name, version_base=None)(reporting_task)
    # Make Hydra re-raise instead of printing its own multi-line report, so the error is reported here.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    if not invocation.wants_traceback:
        silence_abandoned_orbax_io()
    stop_on_sigterm()  # a scheduler's preemption stops the run as Ctrl-C does
    with _leaving_at_once_after_a_failure():
        try:
            app()
        except KeyboardInterrupt as interrupt:
            _exit_on_interrupt(interrupt, config_name)
        except Exception as error:
            # Before the task starts, anything that fails is the command line's or the config's fault (Hydra
            # raises a plain ValueError for some malformed overrides); once it has started, only known user
            # errors are.
            is_user_error = isinstance(error, UserError | HydraException | OmegaConfBaseException) or not task_started
            if invocation.wants_traceback or not is_user_error:
                raise
            message = describe_user_error(error, invocation.arguments, task_started)
            _exit_with(message, _exit_code(error, task_started))


@contextlib.contextmanager
def _leaving_at_once_after_a_failure() -> Iterator[None]:
    """Ends the process at once when the body exits with a non-zero code, without the interpreter's teardown."""
    try:
        yield
    except SystemExit as stop:
        if stop.code in (None, 0):
            raise
        # A failure whose one line is printed: leave without the interpreter's teardown, where the asynchronous
        # reads and writes orbax abandoned on a failed restore or save would print "Event loop is closed"
        # tracebacks after that line. Every file of the run is closed by now.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(stop.code if isinstance(stop.code, int) else 1)


def _exit_on_interrupt(interrupt: KeyboardInterrupt, config_name: str) -> NoReturn:
    """Exits with the line of the run `interrupt` stopped, or else says where the command stopped.

    Arguments:
        interrupt: the Ctrl-C or SIGTERM.
        config_name: the command's primary config: `train` (outside the training loop, which reports its own
            step) or `analyze`.
    """
    stopped = _stopped_run(interrupt)
    if stopped is not None:  # a second signal while the stopped run was finishing: its line still says all
        _exit_with(str(stopped), stopped.exit_code)
    # What is written is kept.
    what = "interrupted" if exit_code_of(interrupt) == INTERRUPTED_EXIT_CODE else "terminated by SIGTERM"
    where = "before training started or after it ended" if config_name == "train" else "during the analysis"
    _exit_with(f"{what} {where}", exit_code_of(interrupt))


def _stopped_run(interrupt: KeyboardInterrupt) -> UserError | None:
    """Returns the error a stopped run was reporting when `interrupt` came (it is `interrupt`'s context), or None."""
    error = interrupt.__context__
    while error is not None and not isinstance(error, UserError):
        error = error.__context__
    return error


def _is_run_directory_error(error: BaseException, task_started: bool) -> bool:
    """Whether Hydra could not make the run directory (under a file, or in a read-only parent), before the task.

    A missing config file is an `OSError` too, but a Hydra one.
    """
    return isinstance(error, OSError) and not isinstance(error, HydraException) and not task_started


def _exit_code(error: BaseException, task_started: bool) -> int | None:
    """Returns the exit code of a reported user error; None for the default (a config mistake)."""
    if isinstance(error, UserError):
        return error.exit_code
    return StorageError.exit_code if _is_run_directory_error(error, task_started) else None
