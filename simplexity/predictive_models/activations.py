"""A model's activations at its named sites, and a summary of them with its parameter count."""

from collections.abc import Collection

import jax
from jaxtyping import Array, Float, Int

from simplexity.predictive_models.parameters import count_parameters
from simplexity.predictive_models.predictive_model import PredictiveModel
from simplexity.predictive_models.sites import AbstractSiteModel, UnknownSiteError


class ActivationsUnavailableError(TypeError):
    """The model has no named activation sites (or none of those asked for)."""


def capture_activations(
    model: PredictiveModel, tokens: Int[Array, "batch seq"], sites: Collection[str] | None = None
) -> dict[str, Float[Array, "batch ..."]]:
    """Returns the model's activations at `sites` (its `default_sites` when None), batch axis first.

    The default sites are the residual stream after the embedding and after every block of a transformer, and the
    embedding and every layer's output of a recurrent network. A model has sites when it derives from
    `AbstractSiteModel` (`simplexity.predictive_models.sites`).

    Raises:
        ActivationsUnavailableError: when the model has no sites, or not one of `sites`.
    """
    if not isinstance(model, AbstractSiteModel) or not model.sites:
        raise ActivationsUnavailableError(
            f"{type(model).__name__} has no named activation sites: derive it from AbstractSiteModel"
        )
    try:
        return model.activations(tokens, sites)
    except UnknownSiteError as error:
        raise ActivationsUnavailableError(str(error)) from error


def summarize(model: PredictiveModel, tokens: Int[Array, "batch seq"]) -> str:
    """Returns a short summary: class, parameter count, and the shape of each site's activation (if any)."""
    lines = [f"{type(model).__name__}: {count_parameters(model):,} parameters"]
    if not isinstance(model, AbstractSiteModel) or not model.sites:
        return lines[0]
    shapes = jax.eval_shape(lambda t: model.activations(t, model.sites), tokens)
    lines += [f"  {name}: {tuple(shape.shape)}" for name, shape in shapes.items()]
    return "\n".join(lines)
