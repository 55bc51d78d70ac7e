"""Structured configs: the typed shape of an experiment config, registered in Hydra's ConfigStore.

The primary config (`configs/train.yaml`) starts from `train_schema`, so every group option merged
into it is checked against these dataclasses while Hydra composes: an unknown key or a value of the wrong type
stops the run before anything is built. The composed config is then converted once into these dataclasses
(`experiment_config`), whose `check` methods hold the range and cross-key checks; below that boundary the code
reads typed fields. A YAML of your own in a group is checked against that group's node of `train_schema` as it is
composed, like the shipped ones.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from simplexity.errors import ConfigError
from simplexity.value_checks import (
    check_builder_arguments,
    check_optimizer_arguments,
    require_finite_positive,
    require_mapping_with_target,
    require_non_negative_int,
    require_optional_positive_int,
    require_positive_int,
    require_seed,
)

SCHEDULES = ("constant", "warmup_cosine")
LOGGERS = ("console", "jsonl", "mlflow")
PRECISIONS = ("float32", "bfloat16")  # the compute dtypes of `simplexity.training.precision`


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


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
class ScheduleConfig:
    """`training.schedule`: the learning-rate schedule."""

    name: str = "constant"
    warmup_steps: int = 0
    final_fraction: float = 1.0

    def check(self) -> None:
        """Raises a `ConfigError` for an unknown schedule or a value out of range."""
        if self.name not in SCHEDULES:
            raise ConfigError.invalid("training.schedule.name", self.name, f"must be one of {', '.join(SCHEDULES)}")
        require_non_negative_int("training.schedule.warmup_steps", self.warmup_steps)
        if not 0.0 <= self.final_fraction <= 1.0:
            raise ConfigError.invalid(
                "training.schedule.final_fraction", self.final_fraction, "must be a number in [0, 1]"
            )


@dataclass
class TrainingConfig:
    """How long and on what batches to train: the trainer's settings, also the start of `training`.

    Arguments:
        sequence_len: tokens of context the model sees; sequences of `sequence_len + 1` tokens are sampled
            so that every position has a next-token target.
        batch_size: sequences per optimizer step.
        num_steps: the step the run ends at (a resumed run counts the steps taken before it).
        log_every: steps between logged metrics; metrics are averaged over those steps.
        checkpoint_every: steps between checkpoints; None saves only at the end.
        checkpoint_steps: further steps to checkpoint at (geometrically spaced ones, say, for curves against
            tokens seen); None for none.
        loss_ema_decay: the decay `d` of the logged exponential moving average of the loss,
            `loss_ema = sum_s (1 - d) d^(t-s) loss_s / (1 - d^t)` after step `t`.
        checkpoint_on_interrupt: on Ctrl-C, save a checkpoint of the last completed step before stopping.
        precision: the dtype each step computes in, `float32` or `bfloat16` (parameters, optimizer state and
            loss stay float32; `simplexity.training.precision`).
    """

    sequence_len: int = MISSING
    batch_size: int = MISSING
    num_steps: int = MISSING
    log_every: int = MISSING
    checkpoint_every: int | None = None
    checkpoint_steps: list[int] | None = None
    loss_ema_decay: float = 0.99
    checkpoint_on_interrupt: bool = False
    precision: str = "float32"

    def check(self) -> None:
        """Raises a `ConfigError` naming `training.<field>` for a length, interval or decay out of range."""
        for name in ("sequence_len", "batch_size", "num_steps", "log_every"):
            require_positive_int(f"training.{name}", getattr(self, name))
        require_optional_positive_int("training.checkpoint_every", self.checkpoint_every)
        for step in self.checkpoint_steps or []:
            if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= self.num_steps:
                raise ConfigError.invalid(
                    "training.checkpoint_steps",
                    self.checkpoint_steps,
                    f"must be a list of steps in [1, training.num_steps={self.num_steps}] or null",
                )
        if self.log_every > self.num_steps:
            raise ConfigError.invalid(
                "training.log_every", self.log_every, f"must be at most training.num_steps={self.num_steps}"
            )
        if self.precision not in PRECISIONS:
            raise ConfigError.invalid("training.precision", self.precision, f"must be one of {', '.join(PRECISIONS)}")
        decay = self.loss_ema_decay
        if isinstance(decay, bool) or not isinstance(decay, int | float) or not 0 <= decay < 1:
            raise ConfigError.invalid("training.loss_ema_decay", decay, "must be a number in [0, 1)")


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
class ValidationSettings:
    """`validation`: the fixed validation set."""

    num_sequences: int = 2048
    seed: int = 0

    def check(self) -> None:
        """Raises a `ConfigError` for an empty validation set or a negative seed."""
        require_positive_int("validation.num_sequences", self.num_sequences)
        require_seed("validation.seed", self.seed)


@dataclass
class MlflowSettings:
    """`logging.mlflow`: where MLflow runs go."""

    tracking_uri: str | None = None  # null: a SQLite store in the run directory (mlflow.db)
    experiment_name: str = "simplexity"


@dataclass
class LoggingSettings:
    """`logging`: which loggers receive the metrics."""

    loggers: list[str] = field(default_factory=lambda: ["console", "jsonl"])
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)

    def check(self) -> None:
        """Raises a `ConfigError` for a logger that does not exist."""
        if not set(self.loggers) <= set(LOGGERS):
            raise ConfigError.invalid(
                "logging.loggers", self.loggers, f"must be a list drawn from {', '.join(LOGGERS)}"
            )


@dataclass
class PersistenceSettings:
    """`persistence`: where checkpoints go; `checkpoint_dir: null` writes none."""

    name: str = "local"
    checkpoint_dir: str | None = "checkpoints"  # relative paths are taken from the run directory
    max_to_keep: int | None = None

    def check(self) -> None:
        """Raises a `ConfigError` for an empty checkpoint directory or a bad `max_to_keep`."""
        if self.checkpoint_dir is not None and not self.checkpoint_dir:
            raise ConfigError.invalid(
                "persistence.checkpoint_dir", self.checkpoint_dir, "must be a non-empty path or null"
            )
        require_optional_positive_int("persistence.max_to_keep", self.max_to_keep)


WEIGHTINGS = ("probability", "uniform")


@dataclass
class ProbeSettings:
    """How belief-geometry probes are fitted: the contexts, their weights and the held-out split.

    Shared by the analysis of a run (`run_analysis.py`) and the probes during training (`analysis`).
    """

    max_context_len: int | None = None  # null: training.sequence_len, shortened to what fits in max_contexts
    max_contexts: int = 20_000
    min_probability: float = 0.0
    weights: str = "probability"  # or uniform: each distinct context once
    last_position_only: bool = False
    test_fraction: float = 0.2
    split_seed: int = 0
    ridge: float | None = None  # null: chosen by cross-validation on the training contexts; 0: least squares

    def check_probes(self, prefix: str) -> None:
        """Raises a `ConfigError` naming `<prefix><field>` for a probe setting that cannot be used."""
        require_optional_positive_int(f"{prefix}max_context_len", self.max_context_len)
        require_positive_int(f"{prefix}max_contexts", self.max_contexts)
        if not _is_number(self.min_probability) or not 0 <= self.min_probability < 1:
            raise ConfigError.invalid(f"{prefix}min_probability", self.min_probability, "must be a number in [0, 1)")
        if self.weights not in WEIGHTINGS:
            raise ConfigError.invalid(f"{prefix}weights", self.weights, f"must be one of {', '.join(WEIGHTINGS)}")
        if not isinstance(self.last_position_only, bool):
            raise ConfigError.invalid(f"{prefix}last_position_only", self.last_position_only, "must be true or false")
        if not _is_number(self.test_fraction) or not 0 < self.test_fraction < 1:
            raise ConfigError.invalid(
                f"{prefix}test_fraction", self.test_fraction, "must be a number strictly between 0 and 1"
            )
        require_seed(f"{prefix}split_seed", self.split_seed)
        if self.ridge is not None and (not _is_number(self.ridge) or not 0 <= self.ridge < float("inf")):
            raise ConfigError.invalid(
                f"{prefix}ridge", self.ridge, "must be null (chosen by cross-validation) or a number at least 0"
            )


@dataclass
class AnalysisSettings(ProbeSettings):
    """`analysis`: belief-geometry probes run during training, every `every` steps (null: off)."""

    every: int | None = None  # a multiple of training.log_every

    def check(self, log_every: int, sequence_len: int) -> None:
        """Raises a `ConfigError` naming `analysis.<field>` for a value that cannot be used."""
        every = require_optional_positive_int("analysis.every", self.every)
        if every is not None and every % log_every:
            raise ConfigError.invalid("analysis.every", every, f"must be a multiple of training.log_every={log_every}")
        self.check_probes("analysis.")
        if self.max_context_len is not None and self.max_context_len > sequence_len:
            raise ConfigError.invalid(
                "analysis.max_context_len",
                self.max_context_len,
                f"must be at most training.sequence_len={sequence_len}",
            )


@dataclass
class DistributedSettings:
    """`distributed`: joining a multi-host run (docs/scaling.md)."""

    coordinator_address: str | None = None
    num_processes: int | None = None
    process_id: int | None = None


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


def register_configs() -> None:
    """Stores `train_schema` in Hydra's ConfigStore (idempotent): a config, not a group a user chooses from."""
    ConfigStore.instance().store(name="train_schema", node=ExperimentConfig)
