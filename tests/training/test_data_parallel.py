"""Data parallelism over simulated CPU devices: the same loss trajectory as one device, to float tolerance."""

import json
import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import json, jax, optax
from simplexity.generative_processes import build_hidden_markov_model
from simplexity.predictive_models import build_gru_rnn
from simplexity.training import TrainingConfig, data_parallel_sharding, train
model = build_gru_rnn(vocab_size=3, embedding_size=4, num_layers=1, hidden_size=8, seed=0)
config = TrainingConfig(sequence_len=8, batch_size=8, num_steps=12, log_every=1)
result = train(model, build_hidden_markov_model("mess3"), optax.adam(1e-2), config, seed=0)
sharding = data_parallel_sharding()
print(json.dumps({"devices": jax.device_count(), "sharded": sharding is not None,
                  "losses": [record["loss"] for record in result.metrics]}))
"""


def run_on(device_count: int) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={device_count}", "JAX_PLATFORMS": "cpu"}
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_four_devices_give_the_losses_of_one():
    one, four = run_on(1), run_on(4)
    assert (one["devices"], one["sharded"]) == (1, False)
    assert (four["devices"], four["sharded"]) == (4, True)
    np.testing.assert_allclose(four["losses"], one["losses"], rtol=1e-5)
