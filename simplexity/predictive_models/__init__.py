"""Sequence models that predict the next token."""

from simplexity.predictive_models.activations import (
    ActivationsUnavailableError,
    capture_activations,
    summarize,
)
from simplexity.predictive_models.gru_layer import GRULayer
from simplexity.predictive_models.lstm_layer import LSTMLayer
from simplexity.predictive_models.oracle import BeliefStateOracle
from simplexity.predictive_models.parameters import count_parameters, count_parameters_of_build, split_parameters
from simplexity.predictive_models.penzai_model import PenzaiModel
from simplexity.predictive_models.predictive_model import PredictiveModel, as_predictive_model
from simplexity.predictive_models.recurrent_network import RecurrentNetwork, build_gru_rnn, build_lstm
from simplexity.predictive_models.transformer import Transformer, build_gruformer, build_transformer

__all__ = [
    "ActivationsUnavailableError",
    "BeliefStateOracle",
    "GRULayer",
    "LSTMLayer",
    "PenzaiModel",
    "PredictiveModel",
    "RecurrentNetwork",
    "Transformer",
    "as_predictive_model",
    "build_gru_rnn",
    "build_gruformer",
    "build_lstm",
    "build_transformer",
    "capture_activations",
    "count_parameters",
    "count_parameters_of_build",
    "split_parameters",
    "summarize",
]
