"""Runs a Hydra application so that a user's mistake ends in one line on stderr, not a traceback."""

import functools
import os
import re
import sys
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any, NoReturn

from hydra.core.hydra_config import HydraConfig
from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from simplexity.config.errors import ConfigError, one_line
from simplexity.run import TrainingStoppedError

USER_ERROR_EXIT_CODE = 2
TRAINING_STOPPED_EXIT_CODE = 3
# Read before `run_reporting_user_errors` sets the variable for Hydra's sake.
_USER_WANTS_TRACEBACK = os.environ.get("HYDRA_FULL_ERROR") == "1"


def describe_user_error(error: BaseException) -> str:
    """Returns a one-line description of a configuration mistake."""
    if isinstance(error, MissingConfigException) and error.missing_cfg_file and error.options is not None:
        path = PurePosixPath(error.missing_cfg_file)
        group = str(path.parent)
        allowed = ", ".join(error.options) if error.options else "none"
        return f"{group}={path.name}: no such option in config group '{group}'; available: {allowed}"
    if isinstance(error, OverrideParseException):
        return f"{error.override}: cannot parse this override: {one_line(error)}"
    if isinstance(error, ConfigCompositionException):
        unknown = re.match(r"Could not override '([^']+)'", str(error))
        if unknown and "not in struct" in str(error.__cause__):
            key = unknown.group(1)
            return f"{key}: no such key in the config; add a new key with +{key}=VALUE"
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

    In a single run, a `ConfigError` exits with code 2, a non-finite loss (`TrainingStoppedError`) with code 3.
    In a multirun the error propagates, so that the sweep records the failed job.
    """

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> Any:
        try:
            return task(cfg)
        except (ConfigError, TrainingStoppedError) as error:
            if _USER_WANTS_TRACEBACK or HydraConfig.get().mode == RunMode.MULTIRUN:
                raise
            _exit_with(str(error), TRAINING_STOPPED_EXIT_CODE if isinstance(error, TrainingStoppedError) else None)

    return wrapped


def run_reporting_user_errors(app: Callable[[], Any]) -> None:
    """Calls a `@hydra.main` application; a configuration mistake exits with code 2 and one line on stderr.

    Other exceptions (bugs) keep their traceback. With `HYDRA_FULL_ERROR=1` set by the user, configuration
    mistakes keep theirs too.
    """
    # Make Hydra re-raise instead of printing its own multi-line report, so the error is reported here.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        app()
    except (ConfigError, HydraException, OmegaConfBaseException) as error:
        if _USER_WANTS_TRACEBACK:
            raise
        _exit_with(describe_user_error(error))
