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

    Every such error is one of these: a config mistake (`ConfigError`, exit code 2) or a run the user's settings
    stopped (`simplexity.training.NonFiniteLossError`, exit code 3).
    """

    exit_code = 2


class ConfigError(UserError):
    """A configuration value that cannot be used; its message is one line naming the key and what is allowed."""

    @classmethod
    def invalid(cls, key: str, value: Any, allowed: str) -> "ConfigError":
        """Returns the error for `key` holding `value`, where `allowed` says what it may hold."""
        return cls(f"{key}={value!r}: {allowed}")
