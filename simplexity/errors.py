"""The error raised for a mistake in a user's configuration."""

import re
from typing import Any

_HYDRA_HINT = re.compile(r",? ?set env var HYDRA_FULL_ERROR=1 to see chained stack trace\.?")


def one_line(error: BaseException) -> str:
    """Returns the message of `error` on one line, without Hydra's hint about stack traces."""
    text = _HYDRA_HINT.sub("", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines) if lines else type(error).__name__


class UserError(Exception):
    """A failure the user can cause and fix; the command line prints its one-line message and exits with `exit_code`.

    The exit codes (the README lists them): 2 a config mistake (`ConfigError`), 3 a non-finite loss
    (`simplexity.training.NonFiniteLossError`), 4 a damaged checkpoint asked for by step
    (`DamagedCheckpointRequestedError`), 5 a full disk or a directory that cannot be written (`StorageError`),
    6 a tracking URI that cannot be used (`TrackingUriError`), 7 a checkpoint that does not fit the configured
    model and optimizer (`UnfitCheckpointError`); Ctrl-C exits with 130.
    """

    exit_code = 2


class ConfigError(UserError):
    """A configuration value that cannot be used; its message is one line naming the key and what is allowed."""

    @classmethod
    def invalid(cls, key: str, value: Any, allowed: str) -> "ConfigError":
        """Returns the error for `key` holding `value`, where `allowed` says what it may hold."""
        return cls(f"{key}={value!r}: {allowed}")


class DamagedCheckpointRequestedError(UserError):
    """The checkpoint asked for by step cannot be read; the message names it and the newest good step."""

    exit_code = 4


class StorageError(UserError):
    """Writing into the run directory failed (a full disk, a read-only or missing directory); names the path."""

    exit_code = 5


class TrackingUriError(ConfigError):
    """`logging.mlflow.tracking_uri` names a store that cannot be used or a server that does not answer."""

    exit_code = 6


class UnfitCheckpointError(ConfigError):
    """A readable checkpoint whose arrays do not fit the configured model and optimizer."""

    exit_code = 7
