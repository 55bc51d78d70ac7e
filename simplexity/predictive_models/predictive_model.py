"""The contract every predictive model satisfies."""

import sys
from typing import Any, Protocol, runtime_checkable

from jaxtyping import Array, Float, Int


@runtime_checkable
class PredictiveModel(Protocol):
    """A next-token predictor: integer tokens `(batch, seq)` in, logits `(batch, seq, vocab)` out.

    The logits at position `t` depend only on tokens `0..t` (causality) and predict token `t + 1`.
    """

    def __call__(self, tokens: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        """Returns next-token logits for every position of every sequence."""
        ...


def as_predictive_model(candidate: Any) -> PredictiveModel:
    """Returns `candidate` as a `PredictiveModel`: a penzai layer is wrapped in `PenzaiModel`, others kept.

    This is the one place where a library's own model type is adapted; the trainer sees only predictive models.

    Raises:
        TypeError: when `candidate` is neither a penzai layer nor callable.
    """
    if "penzai" in sys.modules:  # a penzai layer exists only once penzai is imported
        from simplexity.predictive_models.penzai_model import PenzaiModel, is_penzai_layer

        if is_penzai_layer(candidate):
            return PenzaiModel(candidate)
    if not isinstance(candidate, PredictiveModel):
        raise TypeError(f"built {type(candidate).__name__}, which is not a predictive model (not callable)")
    return candidate
