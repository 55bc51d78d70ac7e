"""The contract every predictive model satisfies."""

from typing import Protocol, runtime_checkable

from jaxtyping import Array, Float, Int


@runtime_checkable
class PredictiveModel(Protocol):
    """A next-token predictor: integer tokens `(batch, seq)` in, logits `(batch, seq, vocab)` out.

    The logits at position `t` depend only on tokens `0..t` (causality) and predict token `t + 1`.
    """

    def __call__(self, tokens: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        """Returns next-token logits for every position of every sequence."""
        ...
