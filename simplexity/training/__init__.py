"""Training predictive models on generative processes."""

from simplexity.training.data import sample_sequences
from simplexity.training.devices import check_batch_splits_over_devices, data_parallel_sharding, initialize_distributed
from simplexity.training.loss import next_token_loss, next_token_losses
from simplexity.training.settings import (
    DistributedSettings,
    ScheduleConfig,
    TrainingConfig,
    ValidationSettings,
)
from simplexity.training.trainer import (
    NonFiniteLossError,
    PeriodicEvaluation,
    TrainingInterruptedError,
    TrainResult,
    TrainState,
    initial_train_state,
    make_train_chunk,
    train,
    training_data_key,
)
from simplexity.training.validator import ValidationConfig, Validator, optimal_loss_per_position

__all__ = [
    "DistributedSettings",
    "NonFiniteLossError",
    "PeriodicEvaluation",
    "ScheduleConfig",
    "TrainResult",
    "TrainState",
    "TrainingConfig",
    "TrainingInterruptedError",
    "ValidationConfig",
    "ValidationSettings",
    "Validator",
    "check_batch_splits_over_devices",
    "data_parallel_sharding",
    "initial_train_state",
    "initialize_distributed",
    "make_train_chunk",
    "next_token_loss",
    "next_token_losses",
    "optimal_loss_per_position",
    "sample_sequences",
    "train",
    "training_data_key",
]
