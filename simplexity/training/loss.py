"""Next-token cross-entropy."""

import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int

from simplexity.predictive_models import PredictiveModel


def cross_entropy(
    logits: Float[Array, "batch seq vocab"], targets: Int[Array, "batch seq"]
) -> Float[Array, "batch seq"]:
    """Returns the cross-entropy (nats) of each target under the logits, computed in float32."""
    return optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), targets)


def next_token_losses(model: PredictiveModel, tokens: Int[Array, "batch seq+1"]) -> Float[Array, "batch seq"]:
    """Returns the cross-entropy (nats) of predicting `tokens[:, t + 1]` from `tokens[:, : t + 1]`."""
    return cross_entropy(model(tokens[:, :-1]), tokens[:, 1:])


def next_token_loss(model: PredictiveModel, tokens: Int[Array, "batch seq+1"]) -> Float[Array, ""]:
    """Returns the mean next-token cross-entropy (nats) over every position of every sequence."""
    return jnp.mean(next_token_losses(model, tokens))
