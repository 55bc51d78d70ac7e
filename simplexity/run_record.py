"""A training run directory read back: its config, metrics, checkpoints, provenance, and models restored.

A run directory is what `run_experiment.py` writes (its layout: `simplexity.run_directory`): `config.yaml` (and
`config.1.yaml`, ... when resumed), `metrics.jsonl`, `checkpoints/<step>/` and `provenance.json`. In a notebook:

    >>> run = load_run("outputs/my_run")
    >>> run.metrics["loss"].plot()              # one row per logged step
    >>> logits = run.model(run.checkpoints[0])(tokens)

Checkpoints are verified as they are restored (`Checkpointer.restore_part`). Like training's resume
(`simplexity.persistence.resume`), `latest` falls back to the newest checkpoint that restores and says each damaged
one in a warning line; a damaged checkpoint asked for by step raises `DamagedCheckpointRequestedError` (exit code 4)
naming the newest good step, and one that does not fit the run's model `UnfitCheckpointError` (exit code 7). A run
directory is only read: a damaged checkpoint is left in place, never moved aside.
"""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import equinox as eqx

from simplexity.config import ConfigError, ExperimentConfig, validate_experiment_config
from simplexity.config.run_files import read_latest_config
from simplexity.errors import DamagedCheckpointRequestedError, UnfitCheckpointError
from simplexity.experiment import Experiment, build_experiment
from simplexity.generative_processes import GenerativeProcess
from simplexity.logging import read_jsonl_metrics
from simplexity.persistence import Checkpointer, choose_checkpoint
from simplexity.persistence.checkpointer import CheckpointMismatchError, DamagedCheckpointError
from simplexity.persistence.provenance import read_provenance
from simplexity.predictive_models import PredictiveModel, split_parameters
from simplexity.run_directory import CONFIG_FILE, METRICS_FILE, checkpoint_steps

if TYPE_CHECKING:  # pandas is imported when a table is built, so that `import simplexity` does not pay for it
    import pandas as pd

Notify = Callable[[str], None]


def notify_on_stderr(message: str) -> None:
    """Prints a one-line notice (a damaged checkpoint passed over) on stderr."""
    print(message, file=sys.stderr, flush=True)


def read_run_config(run_dir: Path) -> ExperimentConfig:
    """Returns the typed, checked config of the run's latest start (see `read_latest_config`).

    Raises:
        FileNotFoundError: when `run_dir` holds no config.
        ConfigError: when that config is not a mapping or does not validate; the message names the file.
    """
    found = read_latest_config(run_dir)
    if found is None:
        raise FileNotFoundError(
            f"run_dir={str(run_dir)!r}: not a run directory: it holds no {CONFIG_FILE} (run_experiment.py writes one)"
        )
    path, loaded = found
    if isinstance(loaded, str):
        raise ConfigError(f"run_dir={str(run_dir)!r}: {path.name}: {loaded}")
    try:
        return validate_experiment_config(loaded)
    except ConfigError as error:
        raise ConfigError(f"run_dir={str(run_dir)!r}: {path.name}: {error}") from error


def restore_checkpoint(experiment: Experiment, checkpoint_dir: Path, step: int) -> PredictiveModel:
    """Returns the experiment's model with the parameters of the checkpoint of `step` in `checkpoint_dir`.

    Raises:
        DamagedCheckpointError: the checkpoint cannot be read.
        UnfitCheckpointError: it is readable but its parameters do not fit the model of the run's config.
    """
    params, static = split_parameters(experiment.model)
    with Checkpointer(checkpoint_dir) as checkpointer:
        try:
            params = checkpointer.restore_part(step, "params", params)
        except CheckpointMismatchError as error:
            where, reason = error.args
            raise UnfitCheckpointError.invalid(
                "step", step, f"{where} does not fit the model of the run's config ({reason})"
            ) from error
    return eqx.combine(params, static)


def _restore_latest(
    experiment: Experiment, checkpoint_dir: Path, steps: list[int], notify: Notify
) -> tuple[PredictiveModel, int]:
    """Returns the model of the newest of `steps` (ascending) that restores, and its step.

    Each damaged checkpoint passed over is said in one line through `notify`.

    Raises:
        DamagedCheckpointRequestedError: none of `steps` restores.
        UnfitCheckpointError: the newest readable checkpoint does not fit the model.
    """
    for index, step in enumerate(reversed(steps)):
        try:
            return restore_checkpoint(experiment, checkpoint_dir, step), step
        except DamagedCheckpointError as error:
            older = steps[-index - 2] if index + 1 < len(steps) else None
            then = f"trying step {older}" if older is not None else "no older checkpoint is left"
            notify(f"warning: {error}; left in place; {then}")
    raise DamagedCheckpointRequestedError(f"step='latest': no checkpoint in {checkpoint_dir} restores")


def _restore_step(experiment: Experiment, checkpoint_dir: Path, steps: list[int], step: int) -> PredictiveModel:
    """Returns the model of the checkpoint of `step` (one of `steps`).

    Raises:
        DamagedCheckpointRequestedError: that checkpoint is damaged; the message names the newest good step.
        UnfitCheckpointError: it does not fit the model.
    """
    try:
        return restore_checkpoint(experiment, checkpoint_dir, step)
    except DamagedCheckpointError as damage:
        good = _newest_good_step(experiment, checkpoint_dir, [other for other in steps if other != step])
        advice = f"the newest good checkpoint is step {good}" if good is not None else "no other checkpoint restores"
        raise DamagedCheckpointRequestedError(f"step={step}: {damage}; {advice}") from damage


def _newest_good_step(experiment: Experiment, checkpoint_dir: Path, steps: list[int]) -> int | None:
    """Returns the newest of `steps` whose checkpoint restores into the model, or None."""
    for step in reversed(steps):
        try:
            restore_checkpoint(experiment, checkpoint_dir, step)
        except (DamagedCheckpointError, UnfitCheckpointError):
            continue
        return step
    return None


def metrics_frame(records: list[dict[str, Any]]) -> "pd.DataFrame":
    """Returns the metrics records as a table indexed by `step`, one column per metric.

    A metric a record lacks is NaN there; per-position metrics (lists) are object columns of lists.
    """
    import pandas as pd

    return pd.DataFrame(records, columns=pd.Index(_columns(records))).set_index("step")


def _columns(records: list[dict[str, Any]]) -> list[str]:
    """Returns `step` and then every metric name in the order the records first name it."""
    names = {"step": None}
    for record in records:
        names.update(dict.fromkeys(record))
    return list(names)


class RestoredModel(NamedTuple):
    """A model restored from a checkpoint (see `Run.restore`), and the step of that checkpoint."""

    model: PredictiveModel
    step: int


@dataclass(frozen=True, eq=False)
class Run:
    """A run directory read back (see `load_run`).

    Arguments:
        run_dir: the run directory, absolute.
        config: the typed config of the run's latest start (its newest `config*.yaml`).
        checkpoint_dir: the directory of its checkpoints (`persistence.checkpoint_dir`); None when it wrote none.
        checkpoints: the steps of the complete checkpoints there, ascending.
    """

    run_dir: Path
    config: ExperimentConfig
    checkpoint_dir: Path | None
    checkpoints: list[int]

    @cached_property
    def metrics(self) -> "pd.DataFrame":
        """One row per logged step (the index, `step`, ascending), one column per metric.

        A step a resumed run logged again holds the resumed run's values; per-position metrics are object columns
        of lists. Read from `metrics.jsonl` on first use (`load_run` reads it at once).
        """
        return metrics_frame(read_jsonl_metrics(self.run_dir / METRICS_FILE))

    @cached_property
    def provenance(self) -> list[dict[str, Any]]:
        """The records of `provenance.json`, one per start of a run in the directory ([] without one).

        Read on first use (`load_run` reads it at once).

        Raises:
            ValueError: when `provenance.json` is not a JSON list of records.
        """
        return read_provenance(self.run_dir)

    @cached_property
    def experiment(self) -> Experiment:
        """What the config builds (process, untrained model, optimizer), built on first use."""
        try:
            return build_experiment(self.config)
        except ConfigError as error:
            raise ConfigError(f"run_dir={str(self.run_dir)!r}: {error}") from error

    @property
    def process(self) -> GenerativeProcess:
        """The training data generator: the process the model was trained on."""
        return self.experiment.process

    def restore(self, step: int | str = "latest", notify: Notify = notify_on_stderr) -> RestoredModel:
        """Returns the model restored from the checkpoint of `step` (a step number or `latest`), and that step.

        The model is the config's, with the checkpoint's parameters: it maps `(batch, seq)` tokens to
        `(batch, seq, vocab)` logits. `latest` is the newest checkpoint in the directory when called; a damaged one
        is passed over for the newest that restores, said in one line through `notify`.

        Raises:
            ConfigError: when the config does not build, the run wrote no checkpoints, or none of `step` (the
                message lists those there).
            DamagedCheckpointRequestedError: the checkpoint of `step` is damaged (the message names the newest good
                step), or for `latest` every one is.
            UnfitCheckpointError: the checkpoint does not fit the model of the run's config.
        """
        experiment = self.experiment
        if self.checkpoint_dir is None:
            raise ConfigError.invalid(
                "run_dir", str(self.run_dir), "its run wrote no checkpoints (persistence.checkpoint_dir: null)"
            )
        chosen = choose_checkpoint(self.checkpoint_dir, step, "step", empty=("run_dir", str(self.run_dir)))
        steps = checkpoint_steps(self.checkpoint_dir)
        if step == "latest":
            return RestoredModel(*_restore_latest(experiment, self.checkpoint_dir, steps, notify))
        return RestoredModel(_restore_step(experiment, self.checkpoint_dir, steps, chosen), chosen)

    def model(self, step: int | str = "latest") -> PredictiveModel:
        """Returns the predictive model restored from the checkpoint of `step` (a step number or `latest`).

        See `restore`, which also returns the step that `latest` came to.
        """
        return self.restore(step).model


def open_run(run_dir: str | Path) -> Run:
    """Returns the run in `run_dir` with its config read and its checkpoints listed now; the rest is read on first use.

    Raises:
        FileNotFoundError: when `run_dir` is not a directory or holds no `config.yaml`.
        ConfigError: when its config does not validate.
    """
    run_dir = Path(run_dir).absolute()
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run_dir={str(run_dir)!r}: not a directory")
    config = read_run_config(run_dir)
    directory = config.persistence.checkpoint_dir
    checkpoint_dir = None if directory is None else run_dir / directory  # a relative one is in the run directory
    return Run(
        run_dir=run_dir,
        config=config,
        checkpoint_dir=checkpoint_dir,
        checkpoints=[] if checkpoint_dir is None else checkpoint_steps(checkpoint_dir),
    )


def load_run(run_dir: str | Path) -> Run:
    """Returns the run in `run_dir`: its config, metrics, checkpoints and provenance, read now.

    Models are restored by `Run.model(step)`; the config is built (`Run.experiment`) on first use. Load the
    directory again to see what a run still in progress has written since.

    Example:
        >>> run = load_run("outputs/my_run")
        >>> run.metrics[["loss", "validation/loss"]].tail()
        >>> run.model("latest")(tokens)   # (batch, seq) -> (batch, seq, vocab) logits

    Raises:
        FileNotFoundError: when `run_dir` is not a directory or holds no `config.yaml`.
        ConfigError: when its config does not validate.
        ValueError: when its `provenance.json` is not a JSON list of records.
    """
    run = open_run(run_dir)
    _ = run.metrics, run.provenance  # read now, so that the record is of one moment
    return run
