"""The config files of a run directory read and written: `config.yaml` from its first start, `config.N.yaml` later.

Which files those are, and in what order, is the run directory's layout (`simplexity.run_directory`).
"""

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from simplexity.errors import one_line
from simplexity.run_directory import config_paths, next_config_path


def _notify_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
    paths = config_paths(run_dir)[::-1]  # newest first
    reasons: list[str] = []
    for path in paths:
        loaded = _load(path)
        if isinstance(loaded, DictConfig):
            if reasons:
                notify(f"warning: {run_dir}: passed over {'; '.join(reasons)}; read {path.name}")
            return path, loaded
        reasons.append(f"{path.name} ({loaded})")
    return (paths[0], _load(paths[0])) if paths else None


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
