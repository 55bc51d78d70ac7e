"""Structured configs: the typed shape of an experiment config, registered in Hydra's ConfigStore.

The primary config (`simplexity/configs/train.yaml`) starts from `train_schema`, so every group option merged into it is
checked against these dataclasses while Hydra composes: an unknown key or a value of the wrong type stops the
run before anything is built. Ranges and cross-key agreement are checked by `validate_experiment_config`.
Each group's schema is also stored as `schema/<group>` for configs of your own.
"""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class DataGeneratorConfig:
    """`training_data_generator` / `validation_data_generator`: a process and its vocabulary size."""

    name: str = MISSING
    vocab_size: int = MISSING  # every token the data can hold, special tokens included
    instance: Any = MISSING  # `_target_` and parameters of the process builder


@dataclass
class PredictiveModelConfig:
    """`predictive_model`: a model builder and where to resume from."""

    name: str = MISSING
    load_checkpoint_step: Any = None  # null, `latest` or a step number
    load_checkpoint_dir: str | None = None  # null: this run's own checkpoint directory
    instance: Any = MISSING  # `_target_` and arguments of the model builder


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


@dataclass
class TrainingSettings:
    """`training`: lengths, sizes, intervals, optimizer and schedule."""

    sequence_len: int = MISSING
    batch_size: int = MISSING
    num_steps: int = MISSING
    log_every: int = MISSING
    checkpoint_every: int | None = None
    max_grad_norm: float | None = None
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)


@dataclass
class ValidationSettings:
    """`validation`: the fixed validation set."""

    num_sequences: int = 2048
    seed: int = 0


@dataclass
class MlflowSettings:
    """`logging.mlflow`: where MLflow runs go."""

    tracking_uri: str | None = None  # null: a file store in the run directory
    experiment_name: str = "simplexity"


@dataclass
class LoggingSettings:
    """`logging`: which loggers receive the metrics."""

    loggers: list[str] = field(default_factory=lambda: ["console", "jsonl"])
    mlflow: MlflowSettings = field(default_factory=MlflowSettings)


@dataclass
class PersistenceSettings:
    """`persistence`: where checkpoints go; `checkpoint_dir: null` writes none."""

    name: str = "local"
    checkpoint_dir: str | None = "checkpoints"  # relative paths are taken from the run directory
    max_to_keep: int | None = None


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


GROUP_SCHEMAS: dict[str, type] = {
    "generative_process": DataGeneratorConfig,
    "predictive_model": PredictiveModelConfig,
    "training": TrainingSettings,
    "training/optimizer": OptimizerConfig,
    "training/schedule": ScheduleConfig,
    "validation": ValidationSettings,
    "logging": LoggingSettings,
    "persistence": PersistenceSettings,
}


def register_configs() -> None:
    """Stores `train_schema` and `schema/<group>` for every group in Hydra's ConfigStore (idempotent)."""
    store = ConfigStore.instance()
    store.store(name="train_schema", node=ExperimentConfig)
    for group, schema in GROUP_SCHEMAS.items():
        store.store(group="schema", name=group.replace("/", "_"), node=schema)
