"""A training run directory read back: its config, metrics, checkpoints, provenance, and models restored.

A run directory is what `run_experiment.py` writes: `config.yaml` (and `config.1.yaml`, ... when resumed),
`metrics.jsonl`, `checkpoints/<step>/` and `provenance.json`. In a notebook:

    >>> run = load_run("outputs/my_run")
    >>> run.metrics["loss"].plot()              # one row per logged step
    >>> logits = run.model(run.checkpoints[0])(tokens)
"""

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import equinox as eqx

from simplexity.config import ConfigError, ExperimentConfig, validate_experiment_config
from simplexity.config.run_files import CONFIG_FILE, read_latest_config
from simplexity.errors import one_line
from simplexity.experiment import Experiment, build_experiment
from simplexity.generative_processes import GenerativeProcess
from simplexity.logging import read_jsonl_metrics
from simplexity.persistence import Checkpointer, choose_checkpoint
from simplexity.persistence.provenance import read_provenance
from simplexity.predictive_models import PredictiveModel, split_parameters

if TYPE_CHECKING:  # pandas is imported when a table is built, so that `import simplexity` does not pay for it
    import pandas as pd

METRICS_FILE = "metrics.jsonl"


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


def restore_model(experiment: Experiment, checkpoint_dir: Path, step: int) -> PredictiveModel:
    """Returns the experiment's model with the parameters of the checkpoint of `step` in `checkpoint_dir`.

    Raises:
        ConfigError: when the checkpoint does not fit the model.
    """
    checkpointer = Checkpointer(checkpoint_dir)
    params, static = split_parameters(experiment.model)
    try:
        params = checkpointer.restore_part(step, "params", params)
    except Exception as error:
        raise ConfigError.invalid(
            "step", step, f"the checkpoint does not fit the model of the run's config: {one_line(error)}"
        ) from error
    finally:
        checkpointer.close()
    return eqx.combine(params, static)


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


@dataclass(frozen=True, eq=False)
class Run:
    """A run directory read back (see `load_run`).

    Arguments:
        run_dir: the run directory, absolute.
        config: the typed config of the run's latest start (its newest `config*.yaml`).
        metrics: one row per logged step (the index, `step`, ascending), one column per metric; a step a resumed
            run logged again holds the resumed run's values. Per-position metrics are object columns of lists.
        checkpoint_dir: the directory of its checkpoints (`persistence.checkpoint_dir`); None when it wrote none.
        checkpoints: the steps of the complete checkpoints there, ascending.
        provenance: the records of `provenance.json`, one per start of a run in the directory ([] without one).
    """

    run_dir: Path
    config: ExperimentConfig
    metrics: "pd.DataFrame" = field(repr=False)
    checkpoint_dir: Path | None
    checkpoints: list[int]
    provenance: list[dict[str, Any]] = field(repr=False)

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

    def model(self, step: int | str = "latest") -> PredictiveModel:
        """Returns the predictive model restored from the checkpoint of `step` (a step number or `latest`).

        The model is the config's, with the checkpoint's parameters: it maps `(batch, seq)` tokens to
        `(batch, seq, vocab)` logits. `latest` is the newest checkpoint in the directory when called.

        Raises:
            ConfigError: when the run wrote no checkpoints, or none of `step` (the message lists those there).
        """
        if self.checkpoint_dir is None:
            raise ConfigError.invalid(
                "run_dir", str(self.run_dir), "its run wrote no checkpoints (persistence.checkpoint_dir: null)"
            )
        chosen = choose_checkpoint(self.checkpoint_dir, step, "step", empty=("run_dir", str(self.run_dir)))
        return restore_model(self.experiment, self.checkpoint_dir, chosen)


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
    run_dir = Path(run_dir).absolute()
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run_dir={str(run_dir)!r}: not a directory")
    config = read_run_config(run_dir)
    directory = config.persistence.checkpoint_dir
    checkpoint_dir = None if directory is None else run_dir / directory  # a relative one is in the run directory
    return Run(
        run_dir=run_dir,
        config=config,
        metrics=metrics_frame(read_jsonl_metrics(run_dir / METRICS_FILE)),
        checkpoint_dir=checkpoint_dir,
        checkpoints=[] if checkpoint_dir is None else _checkpoint_steps(checkpoint_dir),
        provenance=read_provenance(run_dir),
    )


def _checkpoint_steps(checkpoint_dir: Path) -> list[int]:
    """Returns the steps of the complete checkpoints in `checkpoint_dir`, ascending."""
    checkpointer = Checkpointer(checkpoint_dir)
    try:
        return checkpointer.steps()
    finally:
        checkpointer.close()
