"""Sequence models that predict the next token."""

from simplexity.predictive_models.gru_rnn import GRULayer
from simplexity.predictive_models.lstm import LSTMLayer
from simplexity.predictive_models.predictive_model import PredictiveModel
from simplexity.predictive_models.recurrent_network import RecurrentNetwork, build_gru_rnn, build_lstm

__all__ = ["GRULayer", "LSTMLayer", "PredictiveModel", "RecurrentNetwork", "build_gru_rnn", "build_lstm"]
