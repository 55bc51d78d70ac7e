"""Recurrent next-token predictors: token embedding, stacked recurrent layers, linear read-out."""

from collections.abc import Callable

import equinox as eqx
import jax
from jaxtyping import Array, Float, Int, PRNGKeyArray

from simplexity.predictive_models.gru_layer import GRULayer
from simplexity.predictive_models.lstm_layer import LSTMLayer
from simplexity.predictive_models.sites import AbstractSiteModel, SiteHooks
from simplexity.predictive_models.sizes import check_positive_sizes

RecurrentLayer = GRULayer | LSTMLayer


class RecurrentNetwork(AbstractSiteModel):
    """Token embedding, stacked recurrent layers (each optionally followed by layer norm), linear read-out.

    Arguments:
        vocab_size: number of distinct tokens.
        embedding_size: features of the token embedding.
        num_layers: number of stacked recurrent layers.
        hidden_size: hidden features of every layer.
        layer_type: `GRULayer` or `LSTMLayer` (any `(input_size, hidden_size, *, key)` constructor).
        layer_norm: normalise each layer's output before the next layer and the read-out.
        key: PRNG key for all parameters.
    """

    embedding: Float[Array, "vocab embedding"]
    layers: tuple[RecurrentLayer, ...]
    norms: tuple[eqx.nn.LayerNorm, ...] | None
    head: eqx.nn.Linear

    def __init__(
        self,
        vocab_size: int,
        embedding_size: int,
        num_layers: int,
        hidden_size: int,
        layer_type: Callable[..., RecurrentLayer],
        layer_norm: bool = False,
        *,
        key: PRNGKeyArray,
    ):
        embedding_key, head_key, *layer_keys = jax.random.split(key, num_layers + 2)
        self.embedding = jax.random.normal(embedding_key, (vocab_size, embedding_size))
        input_sizes = [embedding_size] + [hidden_size] * (num_layers - 1)
        self.layers = tuple(
            layer_type(size, hidden_size, key=layer_key)
            for size, layer_key in zip(input_sizes, layer_keys, strict=True)
        )
        self.norms = tuple(eqx.nn.LayerNorm(hidden_size) for _ in range(num_layers)) if layer_norm else None
        self.head = eqx.nn.Linear(hidden_size, vocab_size, key=head_key)

    @property
    def sites(self) -> tuple[str, ...]:
        """`embed`, then per layer its `hidden` state (after the LSTM's `cell`) and, with layer norm, `normed`."""
        names = ["embed"]
        for index, layer in enumerate(self.layers):
            if isinstance(layer, LSTMLayer):
                names.append(f"layer_{index}.cell")
            names.append(f"layer_{index}.hidden")
            if self.norms is not None:
                names.append(f"layer_{index}.normed")
        return tuple(names)

    @property
    def default_sites(self) -> tuple[str, ...]:
        """`embed` and each layer's output: its hidden state, normalised when the network has layer norm."""
        output = "hidden" if self.norms is None else "normed"
        return ("embed", *(f"layer_{index}.{output}" for index in range(len(self.layers))))

    def forward_with_hooks(self, tokens: Int[Array, "batch seq"], hooks: SiteHooks) -> Float[Array, "batch seq vocab"]:
        """Returns next-token logits, passing every site's activation through `hooks`.

        An edit of `layer_i.hidden` (or `layer_i.normed`) changes what the next layer and the head read; the
        layer's own recurrence carries its unedited state to the next position. `layer_i.cell` can be read but
        not edited, since the cell state never leaves the LSTM's recurrence.
        """
        # Position-major inside: each layer runs one recurrence over the whole batch, `(seq, batch, features)`.
        features = _position_major_site(hooks, "embed", self.embedding[tokens.T])
        for index, layer in enumerate(self.layers):
            prefix = f"layer_{index}."
            if isinstance(layer, LSTMLayer) and hooks.wants(f"{prefix}cell"):
                if f"{prefix}cell" in hooks.edits:
                    raise ValueError(f"site {prefix}cell can be read but not edited: the LSTM's cell state is internal")
                features, cells = layer.with_cells(features)
                _position_major_site(hooks, f"{prefix}cell", cells)
            else:
                features = layer(features)
            features = _position_major_site(hooks, f"{prefix}hidden", features)
            if self.norms is not None:
                features = _position_major_site(
                    hooks, f"{prefix}normed", jax.vmap(jax.vmap(self.norms[index]))(features)
                )
        logits = jax.vmap(jax.vmap(self.head))(features)
        return logits.swapaxes(0, 1)


def _position_major_site(hooks: SiteHooks, site: str, features: Float[Array, "seq batch features"]) -> Array:
    """Passes position-major `features` through `hooks` at `site` as `(batch, seq, features)`, when it is wanted."""
    if not hooks.wants(site):
        return features
    return hooks(site, features.swapaxes(0, 1)).swapaxes(0, 1)


def build_gru_rnn(
    vocab_size: int, embedding_size: int, num_layers: int, hidden_size: int, seed: int, layer_norm: bool = False
) -> RecurrentNetwork:
    """Returns a GRU-RNN initialised from `seed`.

    Example:
        >>> model = build_gru_rnn(vocab_size=3, embedding_size=8, num_layers=2, hidden_size=16, seed=0)
        >>> model(jnp.zeros((4, 10), dtype=jnp.int32)).shape
        (4, 10, 3)
    """
    check_positive_sizes(
        vocab_size=vocab_size, embedding_size=embedding_size, num_layers=num_layers, hidden_size=hidden_size
    )
    return RecurrentNetwork(
        vocab_size, embedding_size, num_layers, hidden_size, GRULayer, layer_norm, key=jax.random.key(seed)
    )


def build_lstm(
    vocab_size: int, embedding_size: int, num_layers: int, hidden_size: int, seed: int, layer_norm: bool = False
) -> RecurrentNetwork:
    """Returns an LSTM network initialised from `seed`."""
    check_positive_sizes(
        vocab_size=vocab_size, embedding_size=embedding_size, num_layers=num_layers, hidden_size=hidden_size
    )
    return RecurrentNetwork(
        vocab_size, embedding_size, num_layers, hidden_size, LSTMLayer, layer_norm, key=jax.random.key(seed)
    )
