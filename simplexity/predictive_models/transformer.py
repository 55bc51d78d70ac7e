"""A decoder-only transformer, and the GRUFormer: the same network with a GRU in place of attention."""

from collections.abc import Callable
from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from simplexity.predictive_models.gru_layer import GRULayer
from simplexity.predictive_models.sites import AbstractSiteModel, SiteHooks
from simplexity.predictive_models.sizes import check_positive_sizes

Mixer = Literal["attention", "gru"]
Positions = Literal["learned", "rotary"]
POSITIONS: tuple[Positions, ...] = ("learned", "rotary")
AttentionImplementation = Literal["xla", "cudnn"]
ATTENTION_IMPLEMENTATIONS: tuple[AttentionImplementation, ...] = ("xla", "cudnn")
Activation = Literal["gelu", "relu"]
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {"gelu": jax.nn.gelu, "relu": jax.nn.relu}


def apply_rotary(x: Float[Array, "seq heads head_dim"]) -> Float[Array, "seq heads head_dim"]:
    """Returns `x` with rotary position embedding (RoPE) applied along its sequence axis.

    Feature pair `(i, i + head_dim/2)` at position `p` is rotated by the angle `p * 10000^(-2i/head_dim)`, so the
    dot product of a rotated query and a rotated key depends on their positions only through their difference.
    The result has the dtype of `x` (the angles are computed in float32 whatever it is).
    """
    seq_len, _, head_dim = x.shape
    half = head_dim // 2
    frequencies = 10000.0 ** (-jnp.arange(half) / half)
    angles = jnp.arange(seq_len)[:, None] * frequencies[None, :]  # (seq, half)
    cos, sin = jnp.cos(angles)[:, None, :], jnp.sin(angles)[:, None, :]  # broadcast over heads
    first, second = x[..., :half], x[..., half:]
    rotated = jnp.concatenate([first * cos - second * sin, first * sin + second * cos], axis=-1)
    return rotated.astype(x.dtype)


def per_position(layer: Callable[[Array], Array], x: Float[Array, "batch seq features"]) -> Array:
    """Returns `layer` (a function of one position's features) applied at every position of every sequence."""
    return jax.vmap(jax.vmap(layer))(x)


def causal_attention_pattern(
    queries: Float[Array, "batch seq heads head_dim"], keys: Float[Array, "batch seq heads head_dim"]
) -> Float[Array, "batch heads seq seq"]:
    """Returns the attention weights of every query position over the key positions `0..t`, scaled by 1/sqrt(head_dim).

    The same computation as `jax.nn.dot_product_attention`'s XLA implementation: scores in at least float32
    (half-precision inputs multiplied with float32 accumulation), masked above the diagonal, softmax in float32,
    then cast to the keys' dtype. Each row sums to 1 over the keys it may see; the others get exactly 0.
    """
    seq_len, head_dim = queries.shape[1], queries.shape[-1]
    scores_dtype = jnp.promote_types(queries.dtype, jnp.float32)
    precision = {
        jnp.dtype(jnp.bfloat16): jax.lax.DotAlgorithmPreset.BF16_BF16_F32,
        jnp.dtype(jnp.float16): jax.lax.DotAlgorithmPreset.F16_F16_F32,
    }.get(jnp.dtype(queries.dtype))
    scores = jnp.einsum(
        "bqhd,bkhd->bhqk", queries, keys, precision=precision, preferred_element_type=scores_dtype
    ) * jnp.array(head_dim**-0.5, scores_dtype)
    causal = jnp.tril(jnp.ones((seq_len, seq_len), dtype=bool))
    scores = jnp.where(causal, scores, jnp.asarray(0.7 * jnp.finfo(scores_dtype).min, scores_dtype))
    return jax.nn.softmax(scores.astype(jnp.float32), axis=-1).astype(keys.dtype)


class CausalSelfAttention(eqx.Module):
    """Multi-head self-attention in which position `t` attends only to positions `0..t`.

    With `attention_implementation="xla"` the attention weights are computed explicitly
    (`causal_attention_pattern`), so that they can be read and edited as the site `attn_pattern`. With `"cudnn"`
    the attention is `jax.nn.dot_product_attention`'s fused kernel, which applies the causal mask itself (skipping
    the masked blocks) and never forms the weights: that model has no `attn_pattern` site.

    Arguments:
        d_model: features of the residual stream.
        num_heads: attention heads; must divide `d_model`.
        rotary: whether to apply rotary position embedding to queries and keys.
        attention_implementation: `"xla"` runs on every backend in every dtype (scores and softmax in at least
            float32). `"cudnn"` is cuDNN's fused flash attention: it needs an NVIDIA GPU, parameters and
            activations in half precision (bfloat16 or float16) and a head size `d_model / num_heads` that is a
            multiple of 8 (at most 128, or 256 on Hopper and later); it raises at trace time otherwise.
        key: PRNG key for the four projections.
    """

    query_proj: eqx.nn.Linear
    key_proj: eqx.nn.Linear
    value_proj: eqx.nn.Linear
    output_proj: eqx.nn.Linear
    num_heads: int = eqx.field(static=True)
    rotary: bool = eqx.field(static=True)
    attention_implementation: AttentionImplementation = eqx.field(static=True)

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        rotary: bool,
        *,
        attention_implementation: AttentionImplementation = "xla",
        key: PRNGKeyArray,
    ):
        if attention_implementation not in ATTENTION_IMPLEMENTATIONS:
            raise ValueError(
                f"attention_implementation={attention_implementation!r} must be one of "
                f"{', '.join(ATTENTION_IMPLEMENTATIONS)}"
            )
        if d_model % num_heads != 0:
            raise ValueError(f"num_heads={num_heads!r} must divide d_model={d_model!r}")
        if rotary and (d_model // num_heads) % 2 != 0:
            raise ValueError(
                f"d_model={d_model!r} / num_heads={num_heads!r} must be even for rotary positions "
                "(RoPE rotates feature pairs)"
            )
        query_key, key_key, value_key, output_key = jax.random.split(key, 4)
        self.query_proj = eqx.nn.Linear(d_model, d_model, key=query_key)
        self.key_proj = eqx.nn.Linear(d_model, d_model, key=key_key)
        self.value_proj = eqx.nn.Linear(d_model, d_model, key=value_key)
        self.output_proj = eqx.nn.Linear(d_model, d_model, key=output_key)
        self.num_heads = num_heads
        self.rotary = rotary
        self.attention_implementation = attention_implementation

    def __call__(
        self, x: Float[Array, "batch seq d_model"], hooks: SiteHooks, pattern_site: str
    ) -> Float[Array, "batch seq d_model"]:
        """Returns the attention output for a batch of sequences; the weights pass through `hooks` at `pattern_site`."""
        batch, seq_len, d_model = x.shape
        head_dim = d_model // self.num_heads

        def heads(projection: eqx.nn.Linear) -> Array:
            return per_position(projection, x).reshape(batch, seq_len, self.num_heads, head_dim)

        queries, keys, values = heads(self.query_proj), heads(self.key_proj), heads(self.value_proj)
        if self.rotary:
            queries, keys = jax.vmap(apply_rotary)(queries), jax.vmap(apply_rotary)(keys)
        if self.attention_implementation == "cudnn":
            mixed = jax.nn.dot_product_attention(queries, keys, values, is_causal=True, implementation="cudnn")
        else:
            pattern = hooks(pattern_site, causal_attention_pattern(queries, keys))
            mixed = jnp.einsum("bhqk,bkhd->bqhd", pattern, values)
        return per_position(self.output_proj, mixed.reshape(batch, seq_len, d_model))


class MLP(eqx.Module):
    """The position-wise feed-forward network `d_model -> hidden -> d_model` with a GELU (or ReLU) between.

    Arguments:
        d_model: input and output features.
        hidden_size: features of the hidden layer.
        activation: `"gelu"` (tanh approximation, JAX's default) or `"relu"`.
        key: PRNG key for both layers.
    """

    up: eqx.nn.Linear
    down: eqx.nn.Linear
    activation: Activation = eqx.field(static=True)

    def __init__(self, d_model: int, hidden_size: int, activation: Activation = "gelu", *, key: PRNGKeyArray):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r} must be one of {', '.join(ACTIVATIONS)}")
        up_key, down_key = jax.random.split(key)
        self.up = eqx.nn.Linear(d_model, hidden_size, key=up_key)
        self.down = eqx.nn.Linear(hidden_size, d_model, key=down_key)
        self.activation = activation

    def __call__(self, x: Float[Array, "batch seq d_model"], hooks: SiteHooks, prefix: str) -> Array:
        """Returns the output at every position; the hidden layer passes through `hooks` at `<prefix>mlp_hidden`."""
        hidden = hooks(f"{prefix}mlp_hidden", ACTIVATIONS[self.activation](per_position(self.up, x)))
        return per_position(self.down, hidden)


class Block(eqx.Module):
    """A pre-norm residual block: `x + mixer(norm1(x))`, then `x + mlp(norm2(x))`.

    Its sites, each prefixed `block_i.`: `resid_pre` (the stream it receives), `attn_pattern` (attention only),
    `attn_out` (or `gru_out`: the mixer's output), `resid_mid` (the stream after the mixer), `mlp_hidden`,
    `mlp_out` and `resid_post` (the stream it passes on).

    Arguments:
        mixer: mixes information across positions, `(batch, seq, d_model) -> (batch, seq, d_model)`, causally.
        d_model: features of the residual stream.
        mlp_hidden: hidden features of the MLP.
        key: PRNG key for the MLP.
    """

    norm1: eqx.nn.LayerNorm
    mixer: CausalSelfAttention | GRULayer
    norm2: eqx.nn.LayerNorm
    mlp: MLP

    def __init__(
        self,
        mixer: CausalSelfAttention | GRULayer,
        d_model: int,
        mlp_hidden: int,
        activation: Activation = "gelu",
        *,
        key: PRNGKeyArray,
    ):
        self.norm1 = eqx.nn.LayerNorm(d_model)
        self.mixer = mixer
        self.norm2 = eqx.nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, mlp_hidden, activation, key=key)

    def sites(self, prefix: str) -> tuple[str, ...]:
        """This block's sites, each name starting with `prefix`, in the order the forward pass reaches them."""
        if isinstance(self.mixer, GRULayer):
            mixer_sites = ("gru_out",)
        elif self.mixer.attention_implementation == "cudnn":
            mixer_sites = ("attn_out",)
        else:
            mixer_sites = ("attn_pattern", "attn_out")
        names = ("resid_pre", *mixer_sites, "resid_mid", "mlp_hidden", "mlp_out", "resid_post")
        return tuple(prefix + name for name in names)

    def __call__(self, x: Float[Array, "batch seq d_model"], hooks: SiteHooks, prefix: str) -> Array:
        """Returns the residual stream after this block, passing each of its sites through `hooks`."""
        x = hooks(f"{prefix}resid_pre", x)
        normed = per_position(self.norm1, x)
        if isinstance(self.mixer, GRULayer):  # the GRU runs position-major
            mixed = hooks(f"{prefix}gru_out", self.mixer(normed.swapaxes(0, 1)).swapaxes(0, 1))
        else:
            mixed = hooks(f"{prefix}attn_out", self.mixer(normed, hooks, f"{prefix}attn_pattern"))
        x = hooks(f"{prefix}resid_mid", x + mixed)
        out = hooks(f"{prefix}mlp_out", self.mlp(per_position(self.norm2, x), hooks, prefix))
        return hooks(f"{prefix}resid_post", x + out)


class Transformer(AbstractSiteModel):
    """Token (and position) embedding, pre-norm blocks, a final LayerNorm and a linear head to logits.

    With `mixer="attention"` this is a decoder-only transformer; with `mixer="gru"` it is a GRUFormer, in which
    a GRU run over the sequence replaces attention (the recurrence carries position, so it needs no positions).

    Sites: `embed` (token plus position embedding), each block's (`Block`), and `final_norm` (the stream the head
    reads). The default sites are `embed` and each block's `resid_post`.

    Arguments:
        vocab_size: number of distinct tokens.
        d_model: features of the residual stream.
        num_layers: number of blocks.
        mlp_hidden: hidden features of each block's MLP.
        mixer: `"attention"` or `"gru"`.
        num_heads: attention heads (attention only).
        positions: `"learned"` (a table of `max_sequence_len` positions added to the token embedding),
            `"rotary"` (RoPE on queries and keys; attention only) or None (no position information).
        max_sequence_len: the longest sequence a learned-position model accepts.
        attention_implementation: `"xla"` or `"cudnn"` (attention only; see `CausalSelfAttention`).
        activation: the MLPs' nonlinearity, `"gelu"` or `"relu"`.
        key: PRNG key for all parameters.
    """

    token_embedding: Float[Array, "vocab d_model"]
    position_embedding: Float[Array, "max_seq d_model"] | None
    blocks: tuple[Block, ...]
    final_norm: eqx.nn.LayerNorm
    head: eqx.nn.Linear
    mixer: Mixer = eqx.field(static=True)
    positions: Positions | None = eqx.field(static=True)

    def __init__(
        self,
        vocab_size: int,
        d_model: int,
        num_layers: int,
        mlp_hidden: int,
        *,
        mixer: Mixer = "attention",
        num_heads: int = 1,
        positions: Positions | None = "rotary",
        max_sequence_len: int | None = None,
        attention_implementation: AttentionImplementation = "xla",
        activation: Activation = "gelu",
        key: PRNGKeyArray,
    ):
        if positions == "rotary" and mixer != "attention":
            raise ValueError(f"positions='rotary' needs mixer='attention', not mixer={mixer!r}")
        if positions == "learned" and max_sequence_len is None:
            raise ValueError("positions='learned' needs a max_sequence_len")
        token_key, position_key, head_key, *block_keys = jax.random.split(key, num_layers + 3)
        self.token_embedding = 0.02 * jax.random.normal(token_key, (vocab_size, d_model))
        self.position_embedding = (
            0.02 * jax.random.normal(position_key, (max_sequence_len, d_model))
            if positions == "learned" and max_sequence_len is not None
            else None
        )
        blocks = []
        for block_key in block_keys:
            mixer_key, mlp_key = jax.random.split(block_key)
            if mixer == "attention":
                layer = CausalSelfAttention(
                    d_model,
                    num_heads,
                    rotary=positions == "rotary",
                    attention_implementation=attention_implementation,
                    key=mixer_key,
                )
            else:
                layer = GRULayer(d_model, d_model, key=mixer_key)
            blocks.append(Block(layer, d_model, mlp_hidden, activation, key=mlp_key))
        self.blocks = tuple(blocks)
        self.final_norm = eqx.nn.LayerNorm(d_model)
        self.head = eqx.nn.Linear(d_model, vocab_size, key=head_key)
        self.mixer = mixer
        self.positions = positions

    @property
    def sites(self) -> tuple[str, ...]:
        """`embed`, every block's sites in order, `final_norm`."""
        block_sites = [name for index, block in enumerate(self.blocks) for name in block.sites(f"block_{index}.")]
        return ("embed", *block_sites, "final_norm")

    @property
    def default_sites(self) -> tuple[str, ...]:
        """`embed` and the residual stream after every block."""
        return ("embed", *(f"block_{index}.resid_post" for index in range(len(self.blocks))))

    def forward_with_hooks(self, tokens: Int[Array, "batch seq"], hooks: SiteHooks) -> Float[Array, "batch seq vocab"]:
        """Returns next-token logits, passing every site's activation through `hooks`.

        Raises:
            ValueError: at trace time, if a learned-position model gets more tokens than it has positions.
        """
        seq_len = tokens.shape[1]
        x = self.token_embedding[tokens]
        if self.position_embedding is not None:
            max_sequence_len = self.position_embedding.shape[0]
            if seq_len > max_sequence_len:
                raise ValueError(
                    f"sequence of {seq_len} tokens is longer than max_sequence_len={max_sequence_len} "
                    "of this learned-position model"
                )
            x = x + self.position_embedding[:seq_len]
        x = hooks("embed", x)
        for index, block in enumerate(self.blocks):
            x = block(x, hooks, f"block_{index}.")
        return per_position(self.head, hooks("final_norm", per_position(self.final_norm, x)))


def build_transformer(
    vocab_size: int,
    d_model: int,
    num_layers: int,
    num_heads: int,
    mlp_hidden: int,
    max_sequence_len: int,
    positions: Positions = "rotary",
    attention_implementation: AttentionImplementation = "xla",
    activation: Activation = "gelu",
    seed: int = 0,
) -> Transformer:
    """Returns a decoder-only transformer initialised from `seed`.

    Arguments:
        vocab_size: number of distinct tokens.
        d_model: features of the residual stream; divisible by `num_heads` (into even head sizes for rotary).
        num_layers: number of blocks.
        num_heads: attention heads per block.
        mlp_hidden: hidden features of each block's MLP.
        max_sequence_len: the longest sequence the model accepts with learned positions.
        positions: `"learned"` or `"rotary"`.
        attention_implementation: the attention kernel: `"xla"` (any backend and dtype) or `"cudnn"` (cuDNN flash
            attention; needs an NVIDIA GPU and the model in half precision, e.g. `training.precision=bfloat16`).
        activation: the MLPs' nonlinearity: `"gelu"` (tanh approximation) or `"relu"`.
        seed: seed of the parameters.

    Example:
        >>> model = build_transformer(3, d_model=16, num_layers=2, num_heads=4, mlp_hidden=32, max_sequence_len=64)
        >>> model(jnp.zeros((4, 10), dtype=jnp.int32)).shape
        (4, 10, 3)
    """
    check_positive_sizes(
        vocab_size=vocab_size,
        d_model=d_model,
        num_layers=num_layers,
        num_heads=num_heads,
        mlp_hidden=mlp_hidden,
        max_sequence_len=max_sequence_len,
    )
    if positions not in POSITIONS:
        raise ValueError(f"positions={positions!r} must be one of {', '.join(POSITIONS)}")
    return Transformer(
        vocab_size,
        d_model,
        num_layers,
        mlp_hidden,
        mixer="attention",
        num_heads=num_heads,
        positions=positions,
        max_sequence_len=max_sequence_len,
        attention_implementation=attention_implementation,
        activation=activation,
        key=jax.random.key(seed),
    )


def build_gruformer(vocab_size: int, d_model: int, num_layers: int, mlp_hidden: int, seed: int = 0) -> Transformer:
    """Returns a GRUFormer (a transformer whose attention is a GRU over the sequence) initialised from `seed`.

    Example:
        >>> model = build_gruformer(vocab_size=3, d_model=16, num_layers=2, mlp_hidden=32)
        >>> model(jnp.zeros((4, 10), dtype=jnp.int32)).shape
        (4, 10, 3)
    """
    check_positive_sizes(vocab_size=vocab_size, d_model=d_model, num_layers=num_layers, mlp_hidden=mlp_hidden)
    return Transformer(
        vocab_size, d_model, num_layers, mlp_hidden, mixer="gru", positions=None, key=jax.random.key(seed)
    )
