"""Benchmarks the fused training loop against a naive one; prints one JSON object.

    python scripts/bench_train.py [--steps 50] [--repeats 5] [--matmul-size 1024] [--quick]

Figures, for a GRU-RNN and a transformer trained with adam on mess3 at batch 128, sequence 64:
- the seconds to lower and compile one fused chunk (`make_train_chunk`) of `--steps` steps, and its tokens per
  second (best of `--repeats` timed chunks after a warm-up call);
- model FLOP utilisation (MFU): the model's training FLOPs per second divided by the FLOPs per second of a dense
  float32 `n x n @ n x n` matmul measured in the same process (see `flop_counting` in the output).

For the GRU-RNN at batch 4, sequence 8 (where dispatch dominates) and at batch 128, sequence 64: tokens per second
of the fused chunk and of a naive loop (per step, a separately jitted sampling call and a separately jitted train
step, with the loss read on the host), timed alternately in the same process.

`gru_backward` times the GRU-RNN's fused step with the library's recurrence and with a per-sequence `lax.scan` GRU
(vmapped over the batch, differentiated by autodiff), alternately. `gru_rnn_limits` compares the GRU's step time
with the rate of its sequential hidden-to-hidden products at this batch, the part of its FLOPs that cannot be
batched over positions, and shows how the backend spreads such sequential work over cores (the rate of chained
products by row count; two independent chains in one loop against one).
"""

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from simplexity.generative_processes import GenerativeProcess, build_hidden_markov_model
from simplexity.predictive_models import GRULayer, PredictiveModel, RecurrentNetwork, build_gru_rnn, build_transformer
from simplexity.training.data import sample_sequences
from simplexity.training.loss import next_token_loss
from simplexity.training.trainer import TrainingConfig, initial_train_state, make_train_chunk, training_data_key

LEARNING_RATE = 1e-3
GRU = {"embedding_size": 16, "num_layers": 4, "hidden_size": 64}
TRANSFORMER = {"d_model": 64, "num_layers": 2, "num_heads": 4, "mlp_hidden": 256}
FLOP_COUNTING = (
    "Analytic: forward FLOPs = 2 x multiply-adds of every matrix product the model computes (GRU: per layer and "
    "position, input projection 3H x in and hidden projection 3H x H; transformer: per layer and position, the "
    "q, k, v and output projections 4 d^2, attention scores and weighted values 2 x seq x d over the full seq x seq "
    "square that is computed before the causal mask, the MLP 2 x d x mlp; both: the read-out d x vocab), training "
    "FLOPs = 3 x forward; embedding gathers, biases, gates, norms, softmax, loss, optimizer and data sampling are "
    "not counted. XLA: `compiled.cost_analysis()['flops']` of the fused chunk; XLA counts the body of every while "
    "loop once, not times its trip count, so this is one step (the chunk's scan) with each recurrent scan counted "
    "for one position: exact for the transformer, far below the true count for the GRU. MFU = model training "
    "FLOPs per second / float32 matmul FLOPs per second, the highest of the reference measurements taken after "
    "every timed chunk (other processes on the machine slow the two-thread matmul more than the mostly serial "
    "models, so a low reference would inflate MFU)."
)


def best_seconds(run: Callable[[], Any], repeats: int) -> float:
    """Returns the shortest of `repeats` wall-clock timings of `run()` (which must block until done)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def best_seconds_alternately(runs: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Returns the shortest of `repeats` timings of each run, the runs timed in turn so that they share the load."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            best[name] = min(best[name], best_seconds(run, 1))
    return best


def matmul_flops_per_second(size: int, repeats: int) -> float:
    """Returns the FLOPs per second of a jitted float32 `(size, size) @ (size, size)` matmul, best of `repeats`."""
    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (size, size), jnp.float32)
    matmul = jax.jit(jnp.matmul)
    jax.block_until_ready(matmul(a, b))
    return 2 * size**3 / best_seconds(lambda: jax.block_until_ready(matmul(a, b)), repeats)


def recurrent_matmul_seconds(batch: int, hidden_size: int, sequence_len: int, repeats: int, chains: int = 1) -> float:
    """Returns seconds per loop iteration of `chains` independent chains of dependent `(batch, H) @ (H, 3H)` products.

    One chain is the GRU's sequential hidden-to-hidden product at this batch (each position waits for the last), run
    in a jitted `lax.scan` of `sequence_len` iterations with only a sum and a tanh between products; best of
    `repeats`. With `chains=2` each iteration advances two chains that do not depend on each other: if the backend
    ran independent kernels concurrently, an iteration would take less than twice as long as with one chain.
    """
    weight = jax.random.normal(jax.random.key(0), (hidden_size, 3 * hidden_size), jnp.float32) / hidden_size
    hiddens = tuple(jnp.full((batch, hidden_size), 1.0 + chain, jnp.float32) for chain in range(chains))

    def advance(hidden: jax.Array) -> jax.Array:
        return jnp.tanh((hidden @ weight).reshape(batch, 3, hidden_size).sum(axis=1))

    @jax.jit
    def run_chains(hiddens):
        return jax.lax.scan(lambda hiddens, _: (tuple(map(advance, hiddens)), None), hiddens, length=sequence_len)[0]

    jax.block_until_ready(run_chains(hiddens))
    return best_seconds(lambda: jax.block_until_ready(run_chains(hiddens)), repeats) / sequence_len


def sequential_parallelism(hidden_size: int, sequence_len: int, repeats: int) -> dict[str, Any]:
    """Returns how the backend spreads sequential work over cores: chained-product rates by rows, and chain pairs.

    A chain's products run one after another, so only the backend's splitting of one product over threads can use a
    second core; the rates by row count show from which size it does. The pair figure is the time of two
    independent chains in one loop over one chain: 2.0 means they ran one after the other.
    """
    rates = {}
    for rows in (128, 512, 2048):
        seconds = recurrent_matmul_seconds(rows, hidden_size, sequence_len, repeats)
        rates[str(rows)] = round(2 * rows * hidden_size * 3 * hidden_size / seconds)
    one = recurrent_matmul_seconds(128, hidden_size, sequence_len, repeats)
    two = recurrent_matmul_seconds(128, hidden_size, sequence_len, repeats, chains=2)
    return {
        "chained_product_flops_per_second_by_rows": rates,
        "two_independent_chains_over_one_at_128_rows": round(two / one, 3),
    }


def gru_rnn_forward_flops_per_token(vocab_size: int, embedding_size: int, num_layers: int, hidden_size: int) -> int:
    """Returns the matmul FLOPs of the GRU-RNN's forward pass per input position (2 per multiply-add)."""
    input_sizes = [embedding_size] + [hidden_size] * (num_layers - 1)
    multiply_adds = sum(3 * hidden_size * size + 3 * hidden_size * hidden_size for size in input_sizes)
    return 2 * (multiply_adds + hidden_size * vocab_size)


def transformer_forward_flops_per_token(
    vocab_size: int, d_model: int, num_layers: int, mlp_hidden: int, sequence_len: int
) -> int:
    """Returns the matmul FLOPs of the transformer's forward pass per input position (2 per multiply-add)."""
    per_layer = 4 * d_model * d_model + 2 * sequence_len * d_model + 2 * d_model * mlp_hidden
    return 2 * (num_layers * per_layer + d_model * vocab_size)


def xla_flops(compiled: Any) -> float | None:
    """Returns XLA's FLOP estimate of a compiled function, or None when the backend gives none."""
    try:
        analysis = compiled.cost_analysis()
    except Exception:  # some backends raise instead of returning nothing
        return None
    if isinstance(analysis, list | tuple):
        analysis = analysis[0] if analysis else None
    flops = analysis.get("flops") if isinstance(analysis, dict) else None
    return float(flops) if flops is not None else None


class FusedLoop:
    """The library's fused chunk for one model and shape: compiled once, then run on its own (donated) state."""

    def __init__(self, model: PredictiveModel, process: GenerativeProcess, config: TrainingConfig, steps: int):
        optimizer = optax.adam(LEARNING_RATE)
        self.state = initial_train_state(model, optimizer)
        self.initial_params = eqx.filter(model, eqx.is_array)
        train_chunk = make_train_chunk(model, process, optimizer, config, training_data_key(0))
        start = time.perf_counter()
        self.compiled = train_chunk.lower(self.state, self.initial_params, steps).compile()  # pyright: ignore
        self.compile_seconds = time.perf_counter() - start
        self.run()  # the first call pays for allocation; it is not timed

    def run(self) -> None:
        """Takes one chunk of steps and waits for it."""
        self.state, sums = self.compiled(self.state, self.initial_params)
        jax.block_until_ready(sums)


class NaiveLoop:
    """A per-step loop: a jitted sampling call, a jitted train step, and the loss read on the host every step."""

    def __init__(self, model: PredictiveModel, process: GenerativeProcess, config: TrainingConfig, steps: int):
        optimizer = optax.adam(LEARNING_RATE)
        data_key = training_data_key(0)
        static = eqx.filter(model, eqx.is_array, inverse=True)
        self.params = eqx.filter(model, eqx.is_array)
        self.opt_state = optimizer.init(self.params)
        self.steps = steps
        self.losses: list[float] = []

        @jax.jit
        def sample(step):
            return sample_sequences(
                process, jax.random.fold_in(data_key, step), config.batch_size, config.sequence_len + 1
            )

        @jax.jit
        def train_step(params, opt_state, tokens):
            loss, grads = jax.value_and_grad(lambda p: next_token_loss(eqx.combine(p, static), tokens))(params)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return eqx.apply_updates(params, updates), opt_state, loss

        self.sample, self.train_step = sample, train_step
        self.run()  # compiles both functions; not timed

    def run(self) -> None:
        """Takes `steps` steps, reading each step's loss on the host."""
        for step in range(self.steps):
            tokens = self.sample(step)
            self.params, self.opt_state, loss = self.train_step(self.params, self.opt_state, tokens)
            self.losses.append(float(loss))


def bench_model(
    model: PredictiveModel,
    process: GenerativeProcess,
    config: TrainingConfig,
    steps: int,
    repeats: int,
    forward_flops_per_token: int,
    measure_reference: Callable[[], None],
) -> dict[str, Any]:
    """Returns compile time, fused tokens per second and both FLOP figures (MFU is added by the caller).

    `measure_reference()` is called after every timed chunk, so that the reference matmul is sampled in the same
    moments (and under the same load from other processes) as the model.
    """
    fused = FusedLoop(model, process, config, steps)
    seconds = float("inf")
    for _ in range(repeats):
        seconds = min(seconds, best_seconds(fused.run, 1))
        measure_reference()
    tokens_per_step = config.batch_size * config.sequence_len
    analytic_flops_per_step = 3 * forward_flops_per_token * tokens_per_step
    xla = xla_flops(fused.compiled)
    return {
        "batch": config.batch_size,
        "sequence_len": config.sequence_len,
        "steps_per_chunk": steps,
        "compile_seconds": round(fused.compile_seconds, 3),
        "fused_seconds_per_step": round(seconds / steps, 6),
        "fused_tokens_per_second": round(steps * tokens_per_step / seconds),
        "analytic_training_flops_per_step": analytic_flops_per_step,
        "analytic_training_flops_per_second": round(steps * analytic_flops_per_step / seconds),
        "xla_cost_analysis_flops_per_step": xla,
        "xla_cost_analysis_flops_per_second": round(steps * xla / seconds) if xla is not None else None,
    }


def compare_with_naive(
    model: PredictiveModel, process: GenerativeProcess, config: TrainingConfig, steps: int, repeats: int
) -> dict[str, Any]:
    """Returns tokens per second of the fused chunk and of the naive loop over `steps` steps, timed alternately."""
    fused = FusedLoop(model, process, config, steps)
    naive = NaiveLoop(model, process, config, steps)
    best = best_seconds_alternately({"fused": fused.run, "naive": naive.run}, repeats)
    fused_best, naive_best = best["fused"], best["naive"]
    tokens = steps * config.batch_size * config.sequence_len
    return {
        "model": "gru_rnn",
        "batch": config.batch_size,
        "sequence_len": config.sequence_len,
        "steps_per_timing": steps,
        "fused_tokens_per_second": round(tokens / fused_best),
        "naive_tokens_per_second": round(tokens / naive_best),
        "fused_seconds_per_step": round(fused_best / steps, 6),
        "naive_seconds_per_step": round(naive_best / steps, 6),
        "naive_extra_seconds_per_step": round((naive_best - fused_best) / steps, 6),
        "fused_over_naive": round(naive_best / fused_best, 2),
    }


class AutodiffGRULayer(GRULayer):
    """`GRULayer` computed by a per-sequence `lax.scan`, vmapped over the batch, and differentiated by autodiff."""

    def __call__(self, inputs):
        """Returns the hidden state after every position, `(seq, *batch, input) -> (seq, *batch, hidden)`."""
        if inputs.ndim > 2:
            return jax.vmap(self, in_axes=1, out_axes=1)(inputs)
        input_gates = inputs @ self.input_weight.T + self.input_bias

        def step(hidden, gates_x):
            reset_x, update_x, new_x = jnp.split(gates_x, 3)
            reset_h, update_h, new_h = jnp.split(self.hidden_weight @ hidden + self.hidden_bias, 3)
            reset = jax.nn.sigmoid(reset_x + reset_h)
            update = jax.nn.sigmoid(update_x + update_h)
            candidate = jnp.tanh(new_x + reset * new_h)
            hidden = (1.0 - update) * candidate + update * hidden
            return hidden, hidden

        return jax.lax.scan(step, jnp.zeros(self.hidden_size, inputs.dtype), input_gates)[1]


def compare_gru_backward(
    process: GenerativeProcess, config: TrainingConfig, steps: int, repeats: int, vocab_size: int
) -> dict[str, Any]:
    """Returns seconds per fused step of the GRU-RNN with `GRULayer` and with `AutodiffGRULayer`, timed alternately.

    Both networks have the same parameters (same constructor, same key); only the recurrence differs.
    """
    sizes = (vocab_size, GRU["embedding_size"], GRU["num_layers"], GRU["hidden_size"])
    loops = {
        name: FusedLoop(RecurrentNetwork(*sizes, layer_type, key=jax.random.key(0)), process, config, steps)
        for name, layer_type in (("gru_recurrence", GRULayer), ("autodiff_scan", AutodiffGRULayer))
    }
    best = best_seconds_alternately({name: loop.run for name, loop in loops.items()}, repeats)
    return {
        "batch": config.batch_size,
        "sequence_len": config.sequence_len,
        "gru_recurrence_seconds_per_step": round(best["gru_recurrence"] / steps, 6),
        "autodiff_scan_seconds_per_step": round(best["autodiff_scan"] / steps, 6),
        "autodiff_over_gru_recurrence": round(best["autodiff_scan"] / best["gru_recurrence"], 3),
    }


def gru_rnn_limits(
    gru_result: dict[str, Any], recurrent_seconds: float, peak: float, parallelism: dict[str, Any]
) -> dict[str, Any]:
    """Returns how much of the GRU's training FLOPs are sequential, the rate they run at, and the MFU that allows.

    Per layer and position, a training step runs two products in sequence (`gru_recurrence`): the forward hidden
    product and, backward, the hidden-state gradient, each of `(batch, H) @ (H, 3H)` size; every other product
    (input projections, all weight gradients, the read-out) is one large product over all positions.
    """
    hidden, layers, batch = GRU["hidden_size"], GRU["num_layers"], gru_result["batch"]
    sequence_len = gru_result["sequence_len"]
    sequential_flops_per_token = 2 * layers * 2 * 3 * hidden * hidden
    training_flops_per_token = gru_result["analytic_training_flops_per_step"] // (batch * sequence_len)
    share = sequential_flops_per_token / training_flops_per_token
    recurrent_rate = 2 * batch * hidden * 3 * hidden / recurrent_seconds
    matmul_seconds = 2 * recurrent_seconds
    step_seconds = gru_result["fused_seconds_per_step"] / (layers * sequence_len)
    return {
        "sequential_share_of_analytic_training_flops": round(share, 3),
        "recurrent_matmul_shape": f"({batch}, {hidden}) @ ({hidden}, {3 * hidden})",
        "recurrent_matmul_seconds": round(recurrent_seconds, 9),
        "recurrent_matmul_flops_per_second": round(recurrent_rate),
        "recurrent_matmul_over_matmul_reference": round(recurrent_rate / peak, 3),
        "mfu_ceiling_if_only_matmuls_took_time": round(1 / (share * peak / recurrent_rate + (1 - share)), 3),
        "fused_seconds_per_layer_position": round(step_seconds, 9),
        "sequential_matmuls_seconds_per_layer_position": round(matmul_seconds, 9),
        "sequential_matmuls_share_of_fused_step": round(matmul_seconds / step_seconds, 3),
        "note": "the ceiling assumes the sequential products run at the chain's rate (one core: each waits for the "
        "last) and everything else at the reference matmul's rate (both cores), with no other cost",
        **parallelism,
    }


def main() -> None:
    """Runs the benchmark and prints its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50, help="optimizer steps per fused chunk and per naive timing")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each loop; the best is reported")
    parser.add_argument("--matmul-size", type=int, default=1024, help="n of the reference n x n float32 matmul")
    parser.add_argument("--matmul-repeats", type=int, default=10, help="timed matmuls per reference measurement")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 steps, 1 repeat, small matmul")
    args = parser.parse_args()
    if args.quick:
        args.steps, args.repeats, args.matmul_size, args.matmul_repeats = 3, 1, 256, 3
    for name in ("steps", "repeats", "matmul_size", "matmul_repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}={getattr(args, name)} must be a positive integer")

    start = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    process = build_hidden_markov_model("mess3", x=0.15, a=0.6)
    vocab = process.vocab_size
    matmul_rates: list[float] = []

    def measure_reference() -> None:
        matmul_rates.append(matmul_flops_per_second(args.matmul_size, args.matmul_repeats))

    measure_reference()

    full = TrainingConfig(sequence_len=64, batch_size=128, num_steps=args.steps, log_every=args.steps)
    gru = build_gru_rnn(vocab, GRU["embedding_size"], GRU["num_layers"], GRU["hidden_size"], seed=0)
    gru_flops = gru_rnn_forward_flops_per_token(vocab, GRU["embedding_size"], GRU["num_layers"], GRU["hidden_size"])
    gru_result = bench_model(gru, process, full, args.steps, args.repeats, gru_flops, measure_reference)
    recurrent_seconds = recurrent_matmul_seconds(full.batch_size, GRU["hidden_size"], full.sequence_len, 10)
    parallelism = sequential_parallelism(GRU["hidden_size"], full.sequence_len, 10)
    transformer = build_transformer(
        vocab,
        TRANSFORMER["d_model"],
        TRANSFORMER["num_layers"],
        TRANSFORMER["num_heads"],
        TRANSFORMER["mlp_hidden"],
        max_sequence_len=full.sequence_len,
        positions="rotary",
        seed=0,
    )
    transformer_flops = transformer_forward_flops_per_token(
        vocab, TRANSFORMER["d_model"], TRANSFORMER["num_layers"], TRANSFORMER["mlp_hidden"], full.sequence_len
    )
    transformer_result = bench_model(
        transformer, process, full, args.steps, args.repeats, transformer_flops, measure_reference
    )

    tiny = TrainingConfig(sequence_len=8, batch_size=4, num_steps=args.steps, log_every=args.steps)
    naive_tiny = compare_with_naive(gru, process, tiny, args.steps, args.repeats)
    naive_full = compare_with_naive(gru, process, full, args.steps, args.repeats)
    backward = compare_gru_backward(process, full, args.steps, args.repeats, vocab)
    measure_reference()
    peak = max(matmul_rates)

    for result in (gru_result, transformer_result):
        result["mfu_analytic"] = round(result["analytic_training_flops_per_second"] / peak, 4)
        xla_rate = result["xla_cost_analysis_flops_per_second"]
        result["mfu_xla_cost_analysis"] = round(xla_rate / peak, 4) if xla_rate is not None else None
    print(
        json.dumps(
            {
                "process": "mess3(x=0.15, a=0.6)",
                "optimizer": f"adam({LEARNING_RATE})",
                "devices": [str(device) for device in jax.devices()],
                "cpu_count": os.cpu_count(),
                "load_average_1min_at_start": round(load_at_start, 2),
                "load_average_1min_at_end": round(os.getloadavg()[0], 2),
                "quick": args.quick,
                "matmul_reference": {
                    "size": args.matmul_size,
                    "dtype": "float32",
                    "measurements": len(matmul_rates),
                    "flops_per_second_lowest": round(min(matmul_rates)),
                    "flops_per_second_used": round(peak),
                },
                "flop_counting": FLOP_COUNTING,
                "gru_rnn": {"model": f"gru_rnn({GRU})", **gru_result},
                "gru_rnn_limits": gru_rnn_limits(gru_result, recurrent_seconds, peak, parallelism),
                "transformer": {"model": f"transformer({TRANSFORMER}, positions=rotary)", **transformer_result},
                "naive_loop": "per step: jitted sample(step), jitted (value_and_grad + adam update), float(loss)",
                "naive_b4_s8": naive_tiny,
                "naive_b128_s64": naive_full,
                "gru_backward": {
                    "note": "the fused step with the library's GRU (gru_recurrence: hand-written backward pass) and "
                    "with a per-sequence lax.scan GRU (vmapped, autodiff); same parameters, timed alternately",
                    **backward,
                },
                "wall_seconds": round(time.perf_counter() - start, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
