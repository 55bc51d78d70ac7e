"""Sequence models that predict the next token.

`PenzaiModel`, and penzai with it, is loaded when first used: a penzai layer exists only once penzai is imported.
"""

from typing import TYPE_CHECKING, Any

from simplexity.predictive_models.activations import (
    ActivationsUnavailableError,
    capture_activations,
    summarize,
)
from simplexity.predictive_models.gru_layer import GRULayer
from simplexity.predictive_models.lstm_layer import LSTMLayer
from simplexity.predictive_models.oracle import BeliefStateOracle
from simplexity.predictive_models.parameters import count_parameters, count_parameters_of_build, split_parameters
from simplexity.predictive_models.predictive_model import PredictiveModel, as_predictive_model
from simplexity.predictive_models.recurrent_network import RecurrentNetwork, build_gru_rnn, build_lstm
from simplexity.predictive_models.sites import (
    AbstractSiteModel,
    Intervened,
    SiteHooks,
    UnknownSiteError,
    intervene,
)
from simplexity.predictive_models.transformer import Transformer, build_gruformer, build_transformer

if TYPE_CHECKING:
    from simplexity.predictive_models.penzai_model import PenzaiModel


def __getattr__(name: str) -> Any:
    """Returns `PenzaiModel`, loading its module (and penzai) on first use."""
    if name == "PenzaiModel":
        from simplexity.predictive_models.penzai_model import PenzaiModel

        return PenzaiModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AbstractSiteModel",
    "ActivationsUnavailableError",
    "BeliefStateOracle",
    "GRULayer",
    "Intervened",
    "LSTMLayer",
    "PenzaiModel",
    "PredictiveModel",
    "RecurrentNetwork",
    "SiteHooks",
    "Transformer",
    "UnknownSiteError",
    "as_predictive_model",
    "build_gru_rnn",
    "build_gruformer",
    "build_lstm",
    "build_transformer",
    "capture_activations",
    "count_parameters",
    "count_parameters_of_build",
    "intervene",
    "split_parameters",
    "summarize",
]
