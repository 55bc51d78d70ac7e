"""Adapts any penzai layer that maps named tokens to named logits into a `PredictiveModel`."""

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int
from penzai import pz

from simplexity.predictive_models.sites import AbstractSiteModel, SiteHooks


class _ByIdentity:
    """Holds a value in a static Equinox field: hashed and compared by identity, never traced."""

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _ByIdentity) and other.value is self.value


class PenzaiModel(AbstractSiteModel):
    """A penzai model as a pure pytree: its parameters are the leaves, its structure is static.

    The penzai layer is split with `pz.unbind_params`; only the parameter values are trained and checkpointed.
    Constants inside the layer (rescalings, masks) stay constants.

    A penzai `TransformerLM` (a `Sequential` body of an embedding lookup, `TransformerBlock`s, a final norm and the
    head) has the transformer's sites: `embed`, per block `resid_pre`, `attn_pattern` (heads x query x key; several
    head axes are merged into one), `attn_out`, `resid_mid`, `mlp_hidden` (the input of the feed-forward's last
    layer), `mlp_out`, `resid_post`, then `final_norm`. They are found with penzai's selectors, which insert a
    layer at each site wanted for one forward pass; another penzai layer has no sites.

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

    @property
    def sites(self) -> tuple[str, ...]:
        """The transformer's sites (see the class), or none for a layer that is not a penzai `TransformerLM`."""
        num_blocks = _count_blocks(self._unbound.value)
        if num_blocks is None:
            return ()
        block = ("resid_pre", "attn_pattern", "attn_out", "resid_mid", "mlp_hidden", "mlp_out", "resid_post")
        return ("embed", *(f"block_{index}.{name}" for index in range(num_blocks) for name in block), "final_norm")

    @property
    def default_sites(self) -> tuple[str, ...]:
        """`embed` and the residual stream after every block (none for a layer that is not a `TransformerLM`)."""
        num_blocks = _count_blocks(self._unbound.value)
        return () if num_blocks is None else ("embed", *(f"block_{index}.resid_post" for index in range(num_blocks)))

    def forward_with_hooks(self, tokens: Int[Array, "batch seq"], hooks: SiteHooks) -> Float[Array, "batch seq vocab"]:
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
        if hooks.record or hooks.edits:
            layer = _with_sites(layer, hooks)
        logits = layer(pz.nx.wrap(tokens).tag("batch", "seq"))
        return logits.unwrap("batch", "seq", "vocabulary")


def _count_blocks(layer: Any) -> int | None:
    """The number of `TransformerBlock`s of a penzai `TransformerLM` with a `Sequential` body; None otherwise."""
    from penzai.models.transformer import model_parts

    if not isinstance(layer, model_parts.TransformerLM) or not isinstance(layer.body, pz.nn.Sequential):
        return None
    return pz.select(layer).at_instances_of(model_parts.TransformerBlock).count()


@pz.pytree_dataclass
class _Site(pz.nn.Layer):
    """Passes its input through `hooks` at `site`, unwrapped with the batch axis first (see `sites`)."""

    site: str = dataclasses.field(metadata={"pytree_node": False})
    hooks: SiteHooks = dataclasses.field(metadata={"pytree_node": False})

    def __call__(self, x: Any, **side_inputs: Any) -> Any:
        """Returns `x` as the hooks leave it."""
        named = x.named_shape
        if "kv_seq" in named:  # an attention pattern: heads x query x key, the head axes merged into one
            heads = tuple(sorted(axis for axis in named if axis not in ("batch", "seq", "kv_seq")))
            order = ("batch", *heads, "seq", "kv_seq")
            value = x.unwrap(*order)
            merged = value.reshape(value.shape[0], -1, *value.shape[-2:])
            edited = self.hooks(self.site, merged).reshape(value.shape)
        else:  # features at every position: the one axis besides batch and seq
            order = ("batch", "seq", *(axis for axis in named if axis not in ("batch", "seq")))
            edited = self.hooks(self.site, x.unwrap(*order))
        return pz.nx.wrap(edited).tag(*order)


def _with_sites(layer: Any, hooks: SiteHooks) -> Any:
    """Returns the `TransformerLM` `layer` with a `_Site` inserted at every site `hooks` wants."""
    from penzai.models.transformer import model_parts

    def site(name: str) -> _Site:
        return _Site(site=name, hooks=hooks)

    def instrument(block: Any, prefix: str) -> Any:
        attention, feed_forward = pz.nn.Attention, model_parts.TransformerFeedForward
        block = pz.select(block).at_instances_of(attention).insert_after(site(f"{prefix}attn_out"))
        block = (
            pz.select(block).at_instances_of(attention).at(lambda a: a.query_key_to_attn).at_instances_of(pz.nn.Softmax)
        ).insert_after(site(f"{prefix}attn_pattern"))
        block = (pz.select(block).at_instances_of(feed_forward).at(lambda f: f.sublayers[-1])).insert_before(
            site(f"{prefix}mlp_hidden")
        )
        block = pz.select(block).at_instances_of(feed_forward).insert_after(site(f"{prefix}mlp_out"))
        residual_stream = [site(f"{prefix}resid_pre"), block.sublayers[0], site(f"{prefix}resid_mid")]
        return pz.nn.Sequential([*residual_stream, *block.sublayers[1:], site(f"{prefix}resid_post")])

    blocks = pz.select(layer).at_instances_of(model_parts.TransformerBlock)
    layer = blocks.set_sequence(
        instrument(block, f"block_{index}.") for index, block in enumerate(blocks.get_sequence())
    )
    layer = pz.select(layer).at_instances_of(pz.nn.EmbeddingLookup).insert_after(site("embed"))
    final_norm = len(layer.body.sublayers) - 2  # the body ends with the final norm and the head
    return pz.select(layer).at(lambda lm: lm.body.sublayers[final_norm]).insert_after(site("final_norm"))


def is_penzai_layer(candidate: Any) -> bool:
    """Returns whether `candidate` is a penzai layer."""
    return isinstance(candidate, pz.nn.Layer)
