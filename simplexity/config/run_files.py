"""The config files of a run directory: `config.yaml` from its first start, `config.N.yaml` from each later one."""

import contextlib
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from simplexity.errors import one_line

CONFIG_FILE = "config.yaml"
_CONFIG_NAME = re.compile(r"config(?:\.(\d+))?\.yaml")


def _notify_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _silent(message: str) -> None:
    del message


def config_paths(run_dir: str | Path) -> list[Path]:
    """Returns the run's config files, newest first: `config.N.yaml` by descending N, `config.yaml` last."""
    indexed = [
        (int(match.group(1) or 0), path)
        for path in Path(run_dir).glob("config*.yaml")
        if (match := _CONFIG_NAME.fullmatch(path.name)) and path.is_file()
    ]
    return [path for _, path in sorted(indexed, reverse=True)]


def _load(path: Path) -> DictConfig | str:
    """Returns the mapping a config file holds, or why it holds none (empty, not YAML, not UTF-8, not a mapping)."""
    try:
        loaded = OmegaConf.load(path)
    except Exception as error:  # a half-written or foreign file: not YAML, not UTF-8, unreadable
        return one_line(error)
    if not isinstance(loaded, DictConfig):
        return "not a mapping"
    return loaded if len(loaded) else "empty"


def read_latest_config(
    run_dir: str | Path, notify: Callable[[str], None] = _notify_on_stderr
) -> tuple[Path, DictConfig | str] | None:
    """Returns the newest config file of the run that holds a mapping, and that mapping; None when there is none.

    A later start that failed while writing its config (a full disk) may have left an empty or damaged
    `config.N.yaml`: such a file is passed over for the one before, said in one line through `notify`. When no
    file holds a mapping, the newest is returned with the reason it cannot be read in place of the mapping.
    """
    paths = config_paths(run_dir)
    reasons: list[str] = []
    for path in paths:
        loaded = _load(path)
        if isinstance(loaded, DictConfig):
            if reasons:
                notify(f"warning: {run_dir}: passed over {'; '.join(reasons)}; read {path.name}")
            return path, loaded
        reasons.append(f"{path.name} ({loaded})")
    return (paths[0], _load(paths[0])) if paths else None


def latest_config_path(run_dir: str | Path) -> Path | None:
    """Returns the config of the run's latest start that can be read (see `read_latest_config`), else the newest.

    Returns None when `run_dir` holds no config file.
    """
    found = read_latest_config(run_dir, _silent)
    return None if found is None else found[0]


def next_config_path(run_dir: str | Path) -> Path:
    """Returns where a run starting now writes its config: `config.yaml`, or the first free `config.N.yaml`."""
    path, index = Path(run_dir) / CONFIG_FILE, 0
    while path.exists():
        index += 1
        path = Path(run_dir) / f"config.{index}.yaml"
    return path


def write_config_file(run_dir: str | Path, text: str) -> Path:
    """Writes `text` as the config of a run starting now (`next_config_path`) and returns the path.

    The file is written beside (`.NAME.partial`) and renamed into place, so a failed write (a full disk) leaves no
    empty or partial config; the partial file is removed and the error raised.
    """
    path = next_config_path(run_dir)
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise
    return path
