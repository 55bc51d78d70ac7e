"""Benchmarks the fused training chunk per model: tokens per second, compile seconds, MFU; prints one JSON object.

    python scripts/bench_train.py [--steps 50] [--repeats 5] [--matmul-size 1024] [--gpu-sized] [--quick]

Each chunk (`make_train_chunk`) is compiled, called once untimed, then timed `--repeats` times in turn with the other
models of its shape and a float32 reference matmul; the best is reported. GPU-sized models run with `--gpu-sized` or
on a GPU (the transformer also in bfloat16). `--quick` is a smoke run (2 steps, 1 repeat) whose figures mean nothing.
"""

import argparse
import json
import os
import time
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from simplexity.generative_processes import build_hidden_markov_model
from simplexity.predictive_models import GRULayer, RecurrentNetwork, Transformer, build_transformer, split_parameters
from simplexity.training.trainer import TrainingConfig, initial_train_state, make_train_chunk, training_data_key

PROCESS = build_hidden_markov_model("mess3", x=0.15, a=0.6)
CPU_GRU, GPU_GRU = (16, 4, 64), (64, 4, 512)  # embedding_size, num_layers, hidden_size
CPU_TRANSFORMER, GPU_TRANSFORMER = (64, 2, 4, 256), (512, 8, 8, 2048)  # d_model, num_layers, num_heads, mlp_hidden
# Published dense peaks in FLOP/s, (bfloat16, TF32), by a substring of `device_kind`; the first match counts.
GPU_PEAKS = {"H200": (989e12, 494e12), "H100 PCIe": (756e12, 378e12), "H100": (989e12, 494e12)}
GPU_PEAKS |= {"A100": (312e12, 156e12), "L4": (121e12, 60e12), "A10": (125e12, 62.5e12)}
NOTES = {
    "models": "gru_rnn (embedding_size, num_layers, hidden_size); gru_rnn_autodiff: the same with AutodiffGRULayer; "
    "transformer (d_model, num_layers, num_heads, mlp_hidden; rotary positions, XLA attention); vocabulary 3",
    "analytic_flops": "3 x forward; forward per token = 2 x the weights of all matrix products (layers, read-out) "
    "+ 2 x 2 x seq x d_model per transformer layer (attention over the full seq x seq square); nothing else counted",
    "xla_flops": "compiled.cost_analysis()['flops']; XLA counts a while loop's body once, so this is one step, each "
    "recurrent scan counted for one position (far below the true count for the GRU-RNN)",
    "mfu": "FLOPs per second / peak; peak on CPU: 10 float32 n x n matmuls in a row, timed in turn with the models; on "
    "a known GPU: the published dense peak, bfloat16 for bfloat16 runs, TF32 for float32 (JAX's float32 default)",
}


def peak_flops_per_second(precision: str, measured_matmul: float) -> tuple[float | None, str]:
    """Returns the peak that MFU is taken against (None when unknown) and where it comes from."""
    kind, dtype = jax.devices()[0].device_kind, "bfloat16" if precision == "bfloat16" else "TF32"
    known = [(peaks[dtype == "TF32"], f"{name} {dtype} dense") for name, peaks in GPU_PEAKS.items() if name in kind]
    cpu = [(round(measured_matmul), "measured float32 matmul")] if jax.default_backend() == "cpu" else []
    return (cpu + known + [(None, f"no published peak for {kind!r}")])[0]


class AutodiffGRULayer(GRULayer):
    """`GRULayer`'s math as a plain `lax.scan` over positions, `(seq, batch, input) -> (seq, batch, hidden)`."""

    def __call__(self, inputs: jax.Array) -> jax.Array:  # noqa: D102
        def step(hidden: jax.Array, gates_x: jax.Array) -> tuple[jax.Array, jax.Array]:
            reset_x, update_x, new_x = jnp.split(gates_x, 3, axis=-1)
            reset_h, update_h, new_h = jnp.split(hidden @ self.hidden_weight.T + self.hidden_bias, 3, axis=-1)
            reset, update = (0.5 + 0.5 * jnp.tanh(0.5 * x) for x in (reset_x + reset_h, update_x + update_h))
            hidden = (1.0 - update) * jnp.tanh(new_x + reset * new_h) + update * hidden
            return hidden, hidden

        hidden = jnp.zeros((inputs.shape[1], self.hidden_size), inputs.dtype)
        return jax.lax.scan(step, hidden, inputs @ self.input_weight.T + self.input_bias)[1]


def build(name: str, sizes: tuple[int, ...], seq: int) -> tuple[RecurrentNetwork | Transformer, int]:
    """Returns the model `name` (`gru_rnn`, `gru_rnn_autodiff`, `transformer`) and its analytic FLOPs per token."""
    if name == "transformer":
        model = build_transformer(PROCESS.vocab_size, *sizes, max_sequence_len=seq, seed=0)  # pyright: ignore
        layers, attention = model.blocks, 2 * 2 * seq * sizes[0] * sizes[1]
    else:
        layer = AutodiffGRULayer if name == "gru_rnn_autodiff" else GRULayer
        model = RecurrentNetwork(PROCESS.vocab_size, *sizes, layer_type=layer, key=jax.random.key(0))  # pyright: ignore
        layers, attention = model.layers, 0
    matrices = [leaf for leaf in jax.tree.leaves(eqx.filter((layers, model.head), eqx.is_array)) if leaf.ndim == 2]
    return model, 3 * (2 * sum(matrix.size for matrix in matrices) + attention)


def bench(models: dict[str, tuple[int, ...]], config: TrainingConfig, repeats: int, size: int) -> dict[str, dict]:
    """Returns each model's chunk figures, the chunks timed in turn with 10 `(size, size)` float32 matmuls."""
    optimizer, results, flops, tokens = optax.adam(1e-3), {}, {}, config.batch_size * config.sequence_len
    a = jax.random.normal(jax.random.key(0), (size, size), jnp.float32)
    runs: dict[str, Callable[[], object]] = {"matmul": lambda: [a @ a for _ in range(10)]}  # 10 in a row
    for name, sizes in models.items():
        model, flops_per_token = build(name, sizes, config.sequence_len)
        state = initial_train_state(model, optimizer)
        initial, _ = split_parameters(model)
        start = time.perf_counter()
        chunk, key = make_train_chunk(model, optimizer, config), training_data_key(0)
        compiled = chunk.lower(state, initial, PROCESS, key, config.num_steps).compile()  # pyright: ignore
        compile_seconds = time.perf_counter() - start

        def run(compiled=compiled, initial=initial, key=key, states=[state]) -> dict[str, jax.Array]:  # noqa: B006
            # The chunk donates its state: each call runs on the last one's output.
            states[0], metrics = compiled(states[0], initial, PROCESS, key)
            return metrics

        runs[name], loss = run, round(float(run()["loss"]) / config.num_steps, 4)  # the first call allocates
        flops[name] = {"analytic": flops_per_token * tokens, "xla": (compiled.cost_analysis() or {}).get("flops")}
        results[name] = {"sizes": sizes, "compile_seconds": round(compile_seconds, 2), "mean_loss_first_chunk": loss}
        results[name] |= {f"{kind}_flops_per_step": value for kind, value in flops[name].items()}
    jax.block_until_ready(runs["matmul"]())
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):  # the runs take turns, so that they share the machine's load
        for name, call in runs.items():
            start = time.perf_counter()
            jax.block_until_ready(call())
            best[name] = min(best[name], time.perf_counter() - start)
    matmul = 10 * 2 * size**3 / best.pop("matmul")
    peak, peak_source = peak_flops_per_second(config.precision, matmul)
    for name, seconds in best.items():
        step, result = seconds / config.num_steps, results[name]
        result |= {"seconds_per_step": round(step, 6), "tokens_per_second": round(tokens / step)}
        result |= {f"mfu_{k}": round(v / step / peak, 4) if peak and v else None for k, v in flops[name].items()}
        result |= {"peak_flops_per_second": peak, "peak": peak_source, "matmul_float32_flops_per_second": round(matmul)}
    return results


def main() -> None:
    """Runs the benchmark and prints its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50, help="optimizer steps per chunk")
    parser.add_argument("--repeats", type=int, default=5, help="timed chunks per model; the best is reported")
    parser.add_argument("--matmul-size", type=int, default=1024, help="n of the float32 n x n reference matmul")
    parser.add_argument("--gpu-sized", action="store_true", help="also the GPU-sized models (default on a GPU)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 steps, 1 repeat, 256 x 256 matmul")
    args = parser.parse_args()
    steps, repeats, size = (2, 1, 256) if args.quick else (args.steps, args.repeats, args.matmul_size)
    start, load_at_start = time.perf_counter(), round(os.getloadavg()[0], 2)
    groups = [(4, 8, "float32", {"gru_rnn": CPU_GRU})]  # batch, sequence length, precision, models timed in turn
    groups += [(128, 64, "float32", {"gru_rnn": CPU_GRU, "gru_rnn_autodiff": CPU_GRU, "transformer": CPU_TRANSFORMER})]
    if args.gpu_sized or jax.default_backend() == "gpu":
        gpu = {"transformer": GPU_TRANSFORMER, "gru_rnn": GPU_GRU, "gru_rnn_autodiff": GPU_GRU}
        groups += [(256, 256, "float32", gpu), (256, 256, "bfloat16", {"transformer": GPU_TRANSFORMER})]
    models, backward = {}, {}
    for batch, seq, precision, group in groups:
        shape = f"b{batch}_s{seq}_{precision}"
        timed = bench(group, TrainingConfig(seq, batch, steps, steps, precision=precision), repeats, size)
        models |= {f"{name}_{shape}": result for name, result in timed.items()}
        if "gru_rnn_autodiff" in timed:
            library, autodiff = (timed[name]["seconds_per_step"] for name in ("gru_rnn", "gru_rnn_autodiff"))
            seconds = {"gru_recurrence_seconds_per_step": library, "autodiff_seconds_per_step": autodiff}
            backward[shape] = seconds | {"autodiff_over_gru_recurrence": round(autodiff / library, 3)}
    figures = {"devices": [str(device) for device in jax.devices()], "device_kind": jax.devices()[0].device_kind}
    figures |= {"cpu_count": os.cpu_count(), "load_average_1min": [load_at_start, round(os.getloadavg()[0], 2)]}
    figures |= {"quick": args.quick, "steps_per_chunk": steps, "repeats": repeats, "matmul_size": size, "notes": NOTES}
    figures |= {"models": models, "gru_backward": backward, "wall_seconds": round(time.perf_counter() - start, 1)}
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
