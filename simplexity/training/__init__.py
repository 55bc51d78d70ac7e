"""Training predictive models on generative processes."""

from simplexity.training.data import sample_sequences
from simplexity.training.loss import next_token_loss, next_token_losses
from simplexity.training.trainer import (
    NonFiniteLossError,
    TrainingConfig,
    TrainResult,
    TrainState,
    initial_train_state,
    make_train_chunk,
    train,
    training_data_key,
)

__all__ = [
    "NonFiniteLossError",
    "TrainResult",
    "TrainState",
    "TrainingConfig",
    "initial_train_state",
    "make_train_chunk",
    "next_token_loss",
    "next_token_losses",
    "sample_sequences",
    "train",
    "training_data_key",
]
