"""The trainer on an NVIDIA GPU: its state on the device, and bfloat16 against float32 (skipped without a GPU)."""

import jax
import numpy as np
import optax
import pytest

from simplexity.predictive_models import build_transformer
from simplexity.training.trainer import TrainingConfig, train

pytestmark = pytest.mark.gpu


def test_training_runs_on_the_gpu_and_lowers_the_loss(mess3, tiny_gru_rnn):
    config = TrainingConfig(sequence_len=16, batch_size=64, num_steps=200, log_every=100)
    result = train(tiny_gru_rnn, mess3, optax.adam(1e-2), config, seed=0)
    platforms = {device.platform for leaf in jax.tree.leaves(result.state.params) for device in leaf.devices()}
    assert platforms == {"gpu"}
    first, last = (record["loss"] for record in (result.metrics[0], result.metrics[-1]))
    assert np.isfinite([first, last]).all()
    assert last < first


def test_bfloat16_training_on_the_gpu_ends_near_float32(mess3):
    model = build_transformer(vocab_size=3, d_model=32, num_layers=2, num_heads=4, mlp_hidden=64, max_sequence_len=16)
    losses = {}
    for precision in ("float32", "bfloat16"):
        config = TrainingConfig(sequence_len=16, batch_size=64, num_steps=300, log_every=100, precision=precision)
        losses[precision] = train(model, mess3, optax.adam(3e-3), config, seed=0).metrics[-1]["loss"]
    assert np.isfinite(losses["bfloat16"])
    assert abs(losses["bfloat16"] - losses["float32"]) < 0.01, losses
