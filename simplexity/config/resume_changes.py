"""What a resume in the same run directory may change: the config of the resumed start against the earlier one.

A resume continues the checkpoint's data stream and model, so it keeps what they mean: the seed (the batch of
step `s` is drawn from it), the training process and its parameters, the model's builder and arguments, and the
precision each step computes in (`REFUSED`). Everything else a researcher may change on resume (the number of
steps, the batch size and sequence length, the optimizer's settings and the learning-rate schedule, gradient
clipping, logging, checkpoint and validation settings): the run goes on, says what changed in one line and
records it in `provenance.json` (`changed`). Branching off a checkpoint into a new run directory
(`predictive_model.load_checkpoint_dir`) is not a resume of that run, and may change anything.
"""

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from simplexity.config.run_files import read_latest_config
from simplexity.config.schema import ExperimentConfig
from simplexity.config.validation import validate_experiment_config
from simplexity.errors import ConfigError

# Keys (and the keys under them) that a resume in the same run directory must keep.
REFUSED = (
    "seed",
    "training_data_generator",
    "predictive_model.name",
    "predictive_model.instance",
    "training.precision",
)
# Keys that say how this start runs, not what it trains: never a change.
IGNORED = ("predictive_model.load_checkpoint_step", "predictive_model.load_checkpoint_dir", "distributed")


def _notify_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Returns the leaves of a nested mapping by dotted key; lists are leaves."""
    if not isinstance(node, Mapping):
        return {prefix: node}
    leaves: dict[str, Any] = {}
    for name, value in node.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, Mapping) and value:
            leaves.update(_flatten(value, key))
        else:
            leaves[key] = value
    return leaves


def _under(key: str, roots: tuple[str, ...]) -> bool:
    return any(key == root or key.startswith(f"{root}.") for root in roots)


def config_changes(earlier: ExperimentConfig, now: ExperimentConfig) -> dict[str, dict[str, Any]]:
    """Returns `{key: {"from": earlier value, "to": value now}}` for every leaf that differs, but the `IGNORED`."""
    before = _flatten(OmegaConf.to_container(OmegaConf.structured(earlier)))
    after = _flatten(OmegaConf.to_container(OmegaConf.structured(now)))
    return {
        key: {"from": before.get(key), "to": after.get(key)}
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key) and not _under(key, IGNORED)
    }


def describe_changes(changes: Mapping[str, Mapping[str, Any]]) -> str:
    """Returns the one-line warning that says what a resume changed."""
    listed = ", ".join(f"{key}: {change['from']!r} -> {change['to']!r}" for key, change in changes.items())
    return f"warning: resuming with changed settings (recorded in provenance.json): {listed}"


def check_resume_changes(
    config: ExperimentConfig, run_dir: Path, notify: Callable[[str], None] = _notify_on_stderr
) -> dict[str, dict[str, Any]]:
    """Returns what `config` changes from the config of the run's latest start in `run_dir`, which it resumes.

    None when the run directory holds no readable config (a run that wrote none) or one of an older schema (said
    in one line through `notify`). The caller says the changes allowed (`describe_changes`) once the resume is
    sure to go ahead.

    Raises:
        ConfigError: a change of a key in `REFUSED`, naming it, both values and how to branch off instead.
    """
    found = read_latest_config(run_dir, notify)
    if found is None:
        return {}
    path, loaded = found
    if isinstance(loaded, str):
        return {}
    try:
        earlier = validate_experiment_config(loaded)
    except ConfigError as error:
        notify(f"warning: {path}: cannot be compared with the resumed config ({error}); changes are not recorded")
        return {}
    changes = config_changes(earlier, config)
    refused = [key for root in REFUSED for key in changes if _under(key, (root,))]
    if refused:
        key = refused[0]  # in the order of `REFUSED`: `seed` before the model's seed that follows it
        raise ConfigError(
            f"{key}={changes[key]['to']!r}: a resume must keep {key}={changes[key]['from']!r} of {path.name} "
            "(the seed, the training process, the model and training.precision decide what the checkpoint's data "
            "and model mean); to change it, branch off into a new hydra.run.dir with "
            "predictive_model.load_checkpoint_dir"
        )
    return changes
