"""The training-dynamics metrics each logged record carries, recomputed on the host from the run's own records."""

import equinox as eqx
import jax
import numpy as np
import optax
import pytest

from simplexity.training import TrainingConfig, train

LEARNING_RATE = 0.05
DECAY = 0.9
# Every step logged, so that each record's loss is that step's loss; a checkpoint stop splits one interval.
CONFIG = TrainingConfig(sequence_len=8, batch_size=8, num_steps=10, log_every=1, loss_ema_decay=DECAY)
ENTROPY_RATE = 0.75


@pytest.fixture(scope="module")
def sgd_run(mess3, tiny_gru_rnn):
    return train(tiny_gru_rnn, mess3, optax.sgd(LEARNING_RATE), CONFIG, seed=3, entropy_rate=ENTROPY_RATE)


def global_norm(tree) -> float:
    return float(np.sqrt(sum(np.sum(np.asarray(leaf, dtype=np.float64) ** 2) for leaf in jax.tree.leaves(tree))))


def test_plain_sgd_updates_are_the_learning_rate_times_the_gradient(sgd_run):
    for record in sgd_run.metrics[1:]:
        assert record["update_norm"] == pytest.approx(LEARNING_RATE * record["grad_norm"], rel=1e-5)


def test_parameter_norm_and_distance_from_initialisation_match_the_trained_model(sgd_run, tiny_gru_rnn):
    trained = eqx.filter(sgd_run.model, eqx.is_array)
    initial = eqx.filter(tiny_gru_rnn, eqx.is_array)
    last = sgd_run.metrics[1:][-1]
    assert last["param_norm"] == pytest.approx(global_norm(trained), rel=1e-5)
    distance = global_norm(
        jax.tree.map(lambda a, b: np.asarray(a, np.float64) - np.asarray(b, np.float64), trained, initial)
    )
    assert last["distance_from_init"] == pytest.approx(distance, rel=1e-4)
    assert distance > 0


def test_loss_ema_is_the_bias_corrected_average_of_the_step_losses(sgd_run):
    losses = np.array([record["loss"] for record in sgd_run.metrics[1:]])
    for t in range(1, len(losses) + 1):
        weights = (1 - DECAY) * DECAY ** np.arange(t - 1, -1, -1)
        expected = weights @ losses[:t] / (1 - DECAY**t)
        assert sgd_run.metrics[1:][t - 1]["loss_ema"] == pytest.approx(expected, rel=1e-5)


def test_loss_min_is_the_running_minimum_of_the_step_losses(sgd_run):
    losses = np.array([record["loss"] for record in sgd_run.metrics[1:]])
    logged = [record["loss_min"] for record in sgd_run.metrics[1:]]
    np.testing.assert_allclose(logged, np.minimum.accumulate(losses), rtol=1e-6)


def test_excess_over_the_entropy_rate_is_the_loss_minus_the_rate(sgd_run):
    for record in sgd_run.metrics[1:]:
        assert record["loss_over_entropy_rate"] == pytest.approx(record["loss"] - ENTROPY_RATE, abs=1e-6)


def test_final_metrics_come_from_the_last_chunk_of_an_interval(mess3, tiny_gru_rnn):
    # log_every=4 with a checkpoint at step 2: the first interval runs as two chunks (2 + 2 steps).
    config = TrainingConfig(sequence_len=8, batch_size=8, num_steps=4, log_every=4, checkpoint_steps=[2])
    split = train(tiny_gru_rnn, mess3, optax.sgd(LEARNING_RATE), config, seed=3).metrics[-1]
    whole_config = TrainingConfig(sequence_len=8, batch_size=8, num_steps=4, log_every=4)
    whole = train(tiny_gru_rnn, mess3, optax.sgd(LEARNING_RATE), whole_config, seed=3).metrics[-1]
    for name in ("param_norm", "distance_from_init", "loss_ema", "loss_min"):
        assert split[name] == pytest.approx(whole[name], rel=1e-6), name
    assert split["loss"] == pytest.approx(whole["loss"], rel=1e-6)


def test_no_entropy_rate_logs_no_excess(mess3, tiny_gru_rnn):
    config = TrainingConfig(sequence_len=8, batch_size=8, num_steps=2, log_every=2)
    record = train(tiny_gru_rnn, mess3, optax.sgd(LEARNING_RATE), config, seed=0).metrics[-1]
    assert "loss_over_entropy_rate" not in record
    assert {"update_norm", "param_norm", "distance_from_init", "loss_ema", "loss_min"} <= set(record)
