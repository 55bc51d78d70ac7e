"""The application's structured configs: the settings of the packages aggregated, registered in Hydra's ConfigStore.

Each library package declares its own settings beside the code they configure (`simplexity.training.settings`,
`simplexity.logging.settings`, `simplexity.persistence.settings`, `simplexity.analysis.settings`); this module
assembles them into the whole config of each command, with the nodes that name a builder by `_target_`.

The primary config of training (`configs/train.yaml`) starts from `train_schema` (`ExperimentConfig`),
and that of the analysis (`configs/analyze.yaml`) from `analyze_schema` (`AnalyzeConfig`), so every
option merged into them is checked against these dataclasses while Hydra composes: an unknown key or a value of
the wrong type stops the command before anything is built or read. The composed config is then converted once
into these dataclasses (`simplexity.config.validation`), whose `check` methods hold the range and cross-key
checks; below that boundary the code reads typed fields. A YAML of your own in a group is checked against that
group's node of `train_schema` as it is composed, like the shipped ones.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from simplexity.analysis.settings import AnalysisOptions, AnalysisSettings, CheckpointAnalysisSettings
from simplexity.errors import ConfigError
from simplexity.logging.settings import LoggingSettings
from simplexity.persistence.settings import PersistenceSettings
from simplexity.training.settings import (
    DistributedSettings,
    ScheduleConfig,
    TrainingConfig,
    ValidationSettings,
)
from simplexity.value_checks import (
    check_builder_arguments,
    check_optimizer_arguments,
    require_finite_positive,
    require_mapping_with_target,
    require_positive_int,
    require_seed,
)


@dataclass
class DataGeneratorConfig:
    """`training_data_generator` / `validation_data_generator`: a process and its vocabulary size."""

    name: str = MISSING
    vocab_size: int = MISSING  # every token the data can hold, special tokens included
    instance: Any = MISSING  # `_target_` and parameters of the process builder

    def check(self, key: str) -> None:
        """Raises a `ConfigError` naming `key.<field>` for a value that cannot be used."""
        require_positive_int(f"{key}.vocab_size", self.vocab_size)


@dataclass
class PredictiveModelConfig:
    """`predictive_model`: a model builder and where to resume from."""

    name: str = MISSING
    load_checkpoint_step: Any = None  # null, `latest` or a step number
    load_checkpoint_dir: str | None = None  # null: this run's own checkpoint directory
    instance: Any = MISSING  # `_target_` and arguments of the model builder

    def check(self) -> None:
        """Raises a `ConfigError` for a checkpoint step that is not null, `latest` or a step number, or a bad seed."""
        step = self.load_checkpoint_step
        if step is not None and step != "latest" and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise ConfigError.invalid(
                "predictive_model.load_checkpoint_step", step, "must be null, `latest` or a non-negative integer"
            )
        if isinstance(self.instance, Mapping) and "seed" in self.instance:
            # The same rule as the run's own `seed`.
            require_seed("predictive_model.instance.seed", self.instance["seed"])
        if isinstance(self.instance, Mapping):
            check_builder_arguments("predictive_model.instance", self.instance)


@dataclass
class OptimizerConfig:
    """`training.optimizer`: an optax optimizer; its `learning_rate` is the schedule's peak."""

    name: str = MISSING
    instance: Any = MISSING


@dataclass
class TrainingSettings(TrainingConfig):
    """`training`: the trainer's settings, gradient clipping, the optimizer and the schedule."""

    max_grad_norm: float | None = None
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)

    def check(self) -> None:
        """Raises a `ConfigError` for the first value of `training` that cannot be used."""
        super().check()
        require_mapping_with_target("training.optimizer.instance", self.optimizer.instance)
        learning_rate = self.optimizer.instance.get("learning_rate")
        # A mapping is a schedule to be built by Hydra; anything else must be a finite positive number.
        if learning_rate is not None and not isinstance(learning_rate, Mapping):
            require_finite_positive("training.optimizer.instance.learning_rate", learning_rate)
        check_optimizer_arguments("training.optimizer.instance", self.optimizer.instance)

    def check_schedule_and_clipping(self) -> None:
        """Raises a `ConfigError` for a bad schedule or gradient clipping norm."""
        self.schedule.check()
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ConfigError.invalid("training.max_grad_norm", self.max_grad_norm, "must be a positive number or null")


@dataclass
class ExperimentConfig:
    """The whole config of `run_experiment.py`."""

    seed: int = 0
    training_data_generator: DataGeneratorConfig = MISSING
    validation_data_generator: DataGeneratorConfig | None = None
    predictive_model: PredictiveModelConfig = MISSING
    training: TrainingSettings = MISSING
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    persistence: PersistenceSettings = field(default_factory=PersistenceSettings)
    distributed: DistributedSettings = field(default_factory=DistributedSettings)
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)

    def check(self) -> None:
        """Raises a `ConfigError` for the first value that cannot be used, or sizes that do not agree.

        Checks what can be checked before anything is built: ranges, `training.log_every <= training.num_steps`,
        the checkpoint step's form, and that the model's and the validation data's `vocab_size` equal the
        training data's.
        """
        require_seed("seed", self.seed)
        self.training.check()
        require_mapping_with_target("training_data_generator.instance", self.training_data_generator.instance)
        require_mapping_with_target("predictive_model.instance", self.predictive_model.instance)
        self.training_data_generator.check("training_data_generator")
        data_vocab_size = self.training_data_generator.vocab_size
        model_vocab_size = self.predictive_model.instance.get("vocab_size")
        if model_vocab_size is not None and model_vocab_size != data_vocab_size:
            raise ConfigError.invalid(
                "predictive_model.instance.vocab_size",
                model_vocab_size,
                f"must equal training_data_generator.vocab_size={data_vocab_size}",
            )
        if self.validation_data_generator is not None:
            self.validation_data_generator.check("validation_data_generator")
            if self.validation_data_generator.vocab_size != data_vocab_size:
                raise ConfigError.invalid(
                    "validation_data_generator.vocab_size",
                    self.validation_data_generator.vocab_size,
                    f"must equal training_data_generator.vocab_size={data_vocab_size}",
                )
        self.validation.check()
        self.training.check_schedule_and_clipping()
        self.logging.check()
        self.predictive_model.check()
        self.persistence.check()
        self.analysis.check(self.training.log_every, self.training.sequence_len)


@dataclass
class AnalyzeConfig(CheckpointAnalysisSettings):
    """The whole config of `run_analysis.py`: how to analyse (`CheckpointAnalysisSettings`), what, and where to write.

    Arguments:
        run_dir: the training run directory (holding `config.yaml`, `metrics.jsonl` and `checkpoints/`), or a
            sweep directory whose runs are each analysed.
        step: the checkpoint to analyse: `latest`, a step, or `all` (every checkpoint: curves against tokens
            seen).
        output_dir: where `analysis.json` and the figures go; None writes them into `run_dir`.
    """

    run_dir: str = MISSING
    step: int | str = "latest"
    output_dir: str | None = None

    def check(self) -> None:
        """Raises a `ConfigError` for the first value that cannot be used, `run_dir` first."""
        if not self.run_dir:
            raise ConfigError("run_dir: missing; give the training run directory to analyse, run_dir=PATH")
        step = self.step
        if step not in ("latest", "all") and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise ConfigError.invalid("step", step, "must be `latest`, `all` or a non-negative integer")
        if self.output_dir is not None and not self.output_dir:
            raise ConfigError.invalid("output_dir", self.output_dir, "must be a path or null")
        super().check()

    def options(self) -> AnalysisOptions:
        """Returns the options `analyze_run` takes: the settings as given, the step and the output directory typed."""
        settings = {name.name: getattr(self, name.name) for name in fields(CheckpointAnalysisSettings)}
        options = AnalysisOptions(
            **settings,
            step=None if self.step in ("latest", "all") else int(self.step),
            all_steps=self.step == "all",
            output_dir=None if self.output_dir is None else Path(self.output_dir),
        )
        # Reported as floats however they were written.
        options.min_probability, options.test_fraction = float(options.min_probability), float(options.test_fraction)
        options.ridge = None if options.ridge is None else float(options.ridge)
        return options


def register_configs() -> None:
    """Stores `train_schema` and `analyze_schema` in Hydra's ConfigStore (idempotent): configs, not groups."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=ExperimentConfig)
    store.store(name="analyze_schema", node=AnalyzeConfig)
