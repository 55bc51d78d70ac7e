"""Benchmarks sampling and exact information quantities; prints one JSON object.

    python scripts/bench_generate.py [--batch 128] [--sequence-len 64] [--repeats 20] [--myopic-length 12]

Figures: tokens per second for mess3 with the hidden-chain sampler and with the belief-tracking sampler
(measured side by side, after compilation), and the seconds to compute mess3's myopic entropies to L.
"""

import argparse
import json
import time

import jax
import jax.numpy as jnp

from simplexity.generative_processes import build_hidden_markov_model, myopic_entropy


def tokens_per_second(process, batch: int, sequence_len: int, repeats: int, return_all_states: bool) -> float:
    """Returns sampled tokens per second of one compiled batched `generate` call, best of `repeats`."""

    @jax.jit
    def sample(key):
        states = jnp.broadcast_to(process.initial_state, (batch, process.num_states))
        return process.generate(states, jax.random.split(key, batch), sequence_len, return_all_states)

    jax.block_until_ready(sample(jax.random.key(0)))
    best = float("inf")
    for repeat in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(sample(jax.random.key(repeat + 1)))
        best = min(best, time.perf_counter() - start)
    return batch * sequence_len / best


def main() -> None:
    """Runs the benchmark and prints its figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--sequence-len", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--myopic-length", type=int, default=12)
    args = parser.parse_args()

    process = build_hidden_markov_model("mess3", x=0.15, a=0.6)
    hidden_chain = tokens_per_second(process, args.batch, args.sequence_len, args.repeats, False)
    with_beliefs = tokens_per_second(process, args.batch, args.sequence_len, args.repeats, True)
    start = time.perf_counter()
    myopic_entropy(process, args.myopic_length)
    myopic_seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "process": "mess3(x=0.15, a=0.6)",
                "batch": args.batch,
                "sequence_len": args.sequence_len,
                "devices": [str(device) for device in jax.devices()],
                "tokens_per_second_hidden_chain": round(hidden_chain),
                "tokens_per_second_with_beliefs": round(with_beliefs),
                "hidden_chain_over_beliefs": round(hidden_chain / with_beliefs, 2),
                "myopic_entropy_length": args.myopic_length,
                "myopic_entropy_seconds": round(myopic_seconds, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
