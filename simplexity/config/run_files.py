"""The config files of a run directory: `config.yaml` from its first start, `config.N.yaml` from each later one."""

import re
from pathlib import Path

CONFIG_FILE = "config.yaml"
_CONFIG_NAME = re.compile(r"config(?:\.(\d+))?\.yaml")


def latest_config_path(run_dir: str | Path) -> Path | None:
    """Returns the config of the run's latest start: `config.N.yaml` of the highest N, else `config.yaml`.

    Returns None when `run_dir` holds neither.
    """
    indexed = [
        (int(match.group(1) or 0), path)
        for path in Path(run_dir).glob("config*.yaml")
        if (match := _CONFIG_NAME.fullmatch(path.name)) and path.is_file()
    ]
    return max(indexed)[1] if indexed else None


def next_config_path(run_dir: str | Path) -> Path:
    """Returns where a run starting now writes its config: `config.yaml`, or the first free `config.N.yaml`."""
    path, index = Path(run_dir) / CONFIG_FILE, 0
    while path.exists():
        index += 1
        path = Path(run_dir) / f"config.{index}.yaml"
    return path
