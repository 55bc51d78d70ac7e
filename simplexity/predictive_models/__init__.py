"""Sequence models that predict the next token."""

from simplexity.predictive_models.gru_rnn import GRURNN, GRULayer, build_gru_rnn
from simplexity.predictive_models.predictive_model import PredictiveModel

__all__ = ["GRURNN", "GRULayer", "PredictiveModel", "build_gru_rnn"]
