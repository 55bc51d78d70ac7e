"""Named intermediate activations of a model, and a summary of them with its parameter count."""

from typing import cast

import jax
from jaxtyping import Array, Float, Int

from simplexity.predictive_models.parameters import count_parameters
from simplexity.predictive_models.predictive_model import PredictiveModel


class ActivationsUnavailableError(TypeError):
    """The model does not expose intermediate activations."""


def capture_activations(
    model: PredictiveModel, tokens: Int[Array, "batch seq"]
) -> dict[str, Float[Array, "batch seq features"]]:
    """Returns the model's named intermediate activations, each shape `(batch, seq, features)`.

    For a transformer: the residual stream after the embedding and after every block; for a recurrent
    network: the embedding and every layer's hidden state. A model exposes them with a method
    `activations(tokens) -> dict[str, Array]`.

    Raises:
        ActivationsUnavailableError: when the model has no `activations` method.
    """
    activations = getattr(model, "activations", None)
    if not callable(activations):
        raise ActivationsUnavailableError(
            f"{type(model).__name__} exposes no activations: give it a method activations(tokens) -> dict"
        )
    try:
        captured = cast(dict[str, Array], activations(tokens))
    except TypeError as error:
        raise ActivationsUnavailableError(str(error)) from error
    return captured


def summarize(model: PredictiveModel, tokens: Int[Array, "batch seq"]) -> str:
    """Returns a short summary: class, parameter count, and the shape of each named activation (if any)."""
    lines = [f"{type(model).__name__}: {count_parameters(model):,} parameters"]
    try:
        shapes = jax.eval_shape(lambda t: capture_activations(model, t), tokens)
    except ActivationsUnavailableError:
        return lines[0]
    lines += [f"  {name}: {tuple(shape.shape)}" for name, shape in shapes.items()]
    return "\n".join(lines)
