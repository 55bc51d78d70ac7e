"""A decoder-only transformer, and the GRUFormer: the same network with a GRU in place of attention."""

from typing import Literal

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from simplexity.predictive_models.gru_layer import GRULayer
from simplexity.predictive_models.sizes import check_positive_sizes

Mixer = Literal["attention", "gru"]
Positions = Literal["learned", "rotary"]
POSITIONS: tuple[Positions, ...] = ("learned", "rotary")
AttentionImplementation = Literal["xla", "cudnn"]
ATTENTION_IMPLEMENTATIONS: tuple[AttentionImplementation, ...] = ("xla", "cudnn")


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


class CausalSelfAttention(eqx.Module):
    """Multi-head self-attention in which position `t` attends only to positions `0..t`.

    The attention itself is `jax.nn.dot_product_attention` with `is_causal=True`, so the kernel applies the causal
    mask itself (cuDNN skips the masked blocks instead of computing and discarding them).

    Arguments:
        d_model: features of the residual stream.
        num_heads: attention heads; must divide `d_model`.
        rotary: whether to apply rotary position embedding to queries and keys.
        attention_implementation: the kernel of `jax.nn.dot_product_attention`. `"xla"` runs on every backend in
            every dtype (scores and softmax in at least float32). `"cudnn"` is cuDNN's fused flash attention: it
            needs an NVIDIA GPU, parameters and activations in half precision (bfloat16 or float16) and a head
            size `d_model / num_heads` that is a multiple of 8 (at most 128, or 256 on Hopper and later); it
            raises at trace time otherwise.
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

    def __call__(self, x: Float[Array, "seq d_model"]) -> Float[Array, "seq d_model"]:
        """Returns the attention output for one sequence."""
        seq_len, d_model = x.shape
        head_dim = d_model // self.num_heads
        queries = jax.vmap(self.query_proj)(x).reshape(seq_len, self.num_heads, head_dim)
        keys = jax.vmap(self.key_proj)(x).reshape(seq_len, self.num_heads, head_dim)
        values = jax.vmap(self.value_proj)(x).reshape(seq_len, self.num_heads, head_dim)
        if self.rotary:
            queries, keys = apply_rotary(queries), apply_rotary(keys)
        # Unbatched (seq, heads, head_dim) inputs; callers vmap over sequences. Scaled by 1/sqrt(head_dim).
        heads = jax.nn.dot_product_attention(
            queries, keys, values, is_causal=True, implementation=self.attention_implementation
        )
        return jax.vmap(self.output_proj)(heads.reshape(seq_len, d_model))


class MLP(eqx.Module):
    """The position-wise feed-forward network `d_model -> hidden -> d_model` with a GELU between.

    Arguments:
        d_model: input and output features.
        hidden_size: features of the hidden layer.
        key: PRNG key for both layers.
    """

    up: eqx.nn.Linear
    down: eqx.nn.Linear

    def __init__(self, d_model: int, hidden_size: int, *, key: PRNGKeyArray):
        up_key, down_key = jax.random.split(key)
        self.up = eqx.nn.Linear(d_model, hidden_size, key=up_key)
        self.down = eqx.nn.Linear(hidden_size, d_model, key=down_key)

    def __call__(self, x: Float[Array, " d_model"]) -> Float[Array, " d_model"]:
        """Returns the output for one position."""
        return self.down(jax.nn.gelu(self.up(x)))


class Block(eqx.Module):
    """A pre-norm residual block: `x + mixer(norm1(x))`, then `x + mlp(norm2(x))`.

    Arguments:
        mixer: mixes information across positions, `(seq, d_model) -> (seq, d_model)`, causally.
        d_model: features of the residual stream.
        mlp_hidden: hidden features of the MLP.
        key: PRNG key for the MLP.
    """

    norm1: eqx.nn.LayerNorm
    mixer: CausalSelfAttention | GRULayer
    norm2: eqx.nn.LayerNorm
    mlp: MLP

    def __init__(self, mixer: CausalSelfAttention | GRULayer, d_model: int, mlp_hidden: int, *, key: PRNGKeyArray):
        self.norm1 = eqx.nn.LayerNorm(d_model)
        self.mixer = mixer
        self.norm2 = eqx.nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, mlp_hidden, key=key)

    def __call__(self, x: Float[Array, "seq d_model"]) -> Float[Array, "seq d_model"]:
        """Returns the residual stream after this block, for one sequence."""
        x = x + self.mixer(jax.vmap(self.norm1)(x))
        x = x + jax.vmap(self.mlp)(jax.vmap(self.norm2)(x))
        return x


class Transformer(eqx.Module):
    """Token (and position) embedding, pre-norm blocks, a final LayerNorm and a linear head to logits.

    With `mixer="attention"` this is a decoder-only transformer; with `mixer="gru"` it is a GRUFormer, in which
    a GRU run over the sequence replaces attention (the recurrence carries position, so it needs no positions).

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
            blocks.append(Block(layer, d_model, mlp_hidden, key=mlp_key))
        self.blocks = tuple(blocks)
        self.final_norm = eqx.nn.LayerNorm(d_model)
        self.head = eqx.nn.Linear(d_model, vocab_size, key=head_key)
        self.mixer = mixer
        self.positions = positions

    def __call__(self, tokens: Int[Array, "batch seq"]) -> Float[Array, "batch seq vocab"]:
        """Returns next-token logits for a batch of sequences."""
        logits, _ = jax.vmap(self.forward)(tokens)
        return logits

    def activations(self, tokens: Int[Array, "batch seq"]) -> dict[str, Float[Array, "batch seq d_model"]]:
        """Returns the residual stream after the embedding (`"embedding"`) and after every block (`"block_i"`)."""
        _, residuals = jax.vmap(self.forward)(tokens)
        return residuals

    def forward(
        self, tokens: Int[Array, " seq"]
    ) -> tuple[Float[Array, "seq vocab"], dict[str, Float[Array, "seq d_model"]]]:
        """Returns the next-token logits of one sequence and its residual stream after the embedding and each block.

        Raises:
            ValueError: at trace time, if a learned-position model gets more tokens than it has positions.
        """
        seq_len = tokens.shape[0]
        x = self.token_embedding[tokens]
        if self.position_embedding is not None:
            max_sequence_len = self.position_embedding.shape[0]
            if seq_len > max_sequence_len:
                raise ValueError(
                    f"sequence of {seq_len} tokens is longer than max_sequence_len={max_sequence_len} "
                    "of this learned-position model"
                )
            x = x + self.position_embedding[:seq_len]
        residuals = {"embedding": x}
        for index, block in enumerate(self.blocks):
            x = block(x)
            residuals[f"block_{index}"] = x
        logits = jax.vmap(self.head)(jax.vmap(self.final_norm)(x))
        return logits, residuals


def build_transformer(
    vocab_size: int,
    d_model: int,
    num_layers: int,
    num_heads: int,
    mlp_hidden: int,
    max_sequence_len: int,
    positions: Positions = "rotary",
    attention_implementation: AttentionImplementation = "xla",
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
