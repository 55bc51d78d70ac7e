"""Adapts any penzai layer that maps named tokens to named logits into a `PredictiveModel`."""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int
from penzai import pz


class _ByIdentity:
    """Holds a value in a static Equinox field: hashed and compared by identity, never traced."""

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.value is self.value


class PenzaiModel(eqx.Module):
    """A penzai model as a pure pytree: its parameters are the leaves, its structure is static.

    The penzai layer is split with `pz.unbind_params`; only the parameter values are trained and checkpointed.
    Constants inside the layer (rescalings, masks) stay constants.

    Arguments:
        layer: a penzai layer taking tokens with axes `{"batch", "seq"}` and returning logits with axes
            `{"batch", "seq", "vocabulary"}`, such as penzai's `TransformerLM`.
    """

    params: tuple[Any, ...]
    _unbound: _ByIdentity = eqx.field(static=True)

    def __init__(self, layer: Any):
        unbound, params = pz.unbind_params(layer, freeze=True)
        self.params = tuple(params)
        self._unbound = _ByIdentity(unbound)

    @property
    def layer(self) -> Any:
        """The penzai layer with this model's parameter values bound."""
        return pz.bind_variables(self._unbound.value, self.params)

    def __call__(self, tokens: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        """Returns next-token logits for a batch of sequences, computed in the dtype of the parameters.

        With parameters cast to bfloat16 (mixed precision), the layer's floating-point constants (a norm's
        epsilon, say) are cast too, so that none of them promotes the activations back to float32.
        """
        layer = self.layer
        dtypes = {leaf.dtype for leaf in jax.tree.leaves(self.params) if jnp.issubdtype(leaf.dtype, jnp.floating)}
        if len(dtypes) == 1 and (dtype := dtypes.pop()) != jnp.float32:
            layer = jax.tree.map(
                lambda leaf: (
                    leaf.astype(dtype)
                    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.floating)
                    else leaf
                ),
                layer,
            )
        logits = layer(pz.nx.wrap(tokens).tag("batch", "seq"))
        return logits.unwrap("batch", "seq", "vocabulary")

    def activations(self, tokens: Int[Array, "batch seq"]) -> dict[str, Float[Array, "batch seq features"]]:
        """Returns the residual stream after the embedding and after every transformer block.

        Requires a penzai `TransformerLM` (a `Sequential` body whose sublayers include `TransformerBlock`s).
        """
        from penzai.models.transformer import model_parts

        layer = self.layer
        if not isinstance(layer, model_parts.TransformerLM) or not isinstance(layer.body, pz.nn.Sequential):
            raise TypeError(f"{type(layer).__name__} exposes no activations: only penzai TransformerLMs do")
        features = pz.nx.wrap(tokens).tag("batch", "seq")
        positions = pz.nx.arange("seq", tokens.shape[1])
        activations: dict[str, Array] = {}
        blocks = 0
        for sublayer in layer.body.sublayers:
            features = sublayer(features, token_positions=positions)
            if isinstance(sublayer, pz.nn.EmbeddingLookup):
                activations["embedding"] = features.unwrap("batch", "seq", "embedding")
            elif isinstance(sublayer, model_parts.TransformerBlock):
                activations[f"block_{blocks}"] = features.unwrap("batch", "seq", "embedding")
                blocks += 1
        return activations


def is_penzai_layer(candidate: Any) -> bool:
    """Returns whether `candidate` is a penzai layer."""
    return isinstance(candidate, pz.nn.Layer)
