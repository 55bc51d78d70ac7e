"""Training predictive models on generative processes."""

from simplexity.training.data import sample_sequences
from simplexity.training.loss import next_token_loss, next_token_losses
from simplexity.training.trainer import (
    NonFiniteLossError,
    TrainingConfig,
    TrainResult,
    TrainState,
    data_parallel_sharding,
    initial_train_state,
    make_train_chunk,
    train,
    training_data_key,
)
from simplexity.training.validation import ValidationConfig, Validator, optimal_loss_per_position

__all__ = [
    "NonFiniteLossError",
    "TrainResult",
    "TrainState",
    "TrainingConfig",
    "ValidationConfig",
    "Validator",
    "data_parallel_sharding",
    "initial_train_state",
    "make_train_chunk",
    "next_token_loss",
    "next_token_losses",
    "optimal_loss_per_position",
    "sample_sequences",
    "train",
    "training_data_key",
]
