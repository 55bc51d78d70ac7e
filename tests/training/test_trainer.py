import math
from dataclasses import replace

import equinox as eqx
import jax
import numpy as np
import optax
import pytest

from simplexity.persistence import Checkpointer
from simplexity.predictive_models import build_gru_rnn, build_transformer
from simplexity.training import NonFiniteLossError, TrainingConfig, initial_train_state, sample_sequences, train
from simplexity.training.optimizer import learning_rate_schedule
from simplexity.training.trainer import _next_stop

TINY = TrainingConfig(sequence_len=8, batch_size=8, num_steps=12, log_every=4, checkpoint_every=6)


def params_of(model):
    return jax.tree.leaves(eqx.filter(model, eqx.is_array))


def test_loss_decreases_on_mess3(mess3):
    model = build_gru_rnn(vocab_size=3, embedding_size=8, num_layers=1, hidden_size=32, seed=0)
    config = TrainingConfig(sequence_len=16, batch_size=32, num_steps=300, log_every=50)
    result = train(model, mess3, optax.adam(3e-3), config, seed=0)
    losses = [record["loss"] for record in result.metrics]
    assert [record["step"] for record in result.metrics] == [0, 50, 100, 150, 200, 250, 300]
    assert losses[-1] < losses[0]
    assert losses[-1] < math.log(3) - 0.005


def test_resumed_run_ends_bit_identical_to_uninterrupted_run(mess3, tiny_gru_rnn, tmp_path):
    optimizer = optax.adam(1e-2)
    straight = Checkpointer(tmp_path / "straight")
    uninterrupted = train(tiny_gru_rnn, mess3, optimizer, TINY, seed=5, checkpointer=straight)
    assert straight.steps() == [6, 12]

    first_half = TrainingConfig(**{**TINY.__dict__, "num_steps": 6})
    interrupted = Checkpointer(tmp_path / "interrupted")
    train(tiny_gru_rnn, mess3, optimizer, first_half, seed=5, checkpointer=interrupted)
    restored = interrupted.restore(6, initial_train_state(tiny_gru_rnn, optimizer))
    resumed = train(tiny_gru_rnn, mess3, optimizer, TINY, seed=5, resume_from=restored)

    assert int(resumed.state.step) == 12
    for a, b in zip(params_of(uninterrupted.model), params_of(resumed.model), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [r["step"] for r in resumed.metrics] == [8, 12]
    # The loss statistics travel in the checkpoint, and the distance is measured from the same initialisation.
    for name in ("loss", "loss_ema", "loss_min", "param_norm", "distance_from_init"):
        assert resumed.metrics[-1][name] == uninterrupted.metrics[-1][name], name


def test_training_leaves_the_given_model_untouched(mess3, tiny_gru_rnn):
    before = [np.array(leaf) for leaf in params_of(tiny_gru_rnn)]
    result = train(tiny_gru_rnn, mess3, optax.adam(1e-2), TINY, seed=0)
    for a, b in zip(before, params_of(tiny_gru_rnn), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(before, params_of(result.model), strict=True))


def test_different_seeds_draw_different_data(mess3, tiny_gru_rnn):
    first = train(tiny_gru_rnn, mess3, optax.adam(1e-2), TINY, seed=0).metrics
    other = train(tiny_gru_rnn, mess3, optax.adam(1e-2), TINY, seed=1).metrics
    assert first[0]["loss"] != other[0]["loss"]


def test_non_finite_loss_stops_the_run_before_any_later_checkpoint(mess3, tiny_gru_rnn, tmp_path):
    checkpointer = Checkpointer(tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"non-finite at step 2$"):
        train(tiny_gru_rnn, mess3, optax.scale(math.nan), TINY, seed=0, checkpointer=checkpointer)
    assert checkpointer.steps() == []


def test_metrics_records_have_the_logged_fields(mess3, tiny_gru_rnn):
    records = train(tiny_gru_rnn, mess3, optax.adam(1e-2), TINY, seed=0).metrics
    assert set(records[0]) == {"step", "loss", "tokens_seen", "wall_time"}  # step 0: the initial loss
    assert {"step", "loss", "grad_norm", "steps_per_second", "tokens_seen", "wall_time"} <= set(records[1])
    assert "compile_seconds" in records[1]
    assert records[-1]["tokens_seen"] == 12 * 8 * 8


@pytest.mark.parametrize(
    ("step", "log_every", "checkpoint_every", "expected"),
    [(0, 4, 6, 4), (4, 4, 6, 6), (6, 4, 6, 8), (8, 4, None, 12), (11, 4, 6, 12)],
)
def test_chunks_stop_at_every_log_and_checkpoint_step(step, log_every, checkpoint_every, expected):
    config = TrainingConfig(
        sequence_len=2, batch_size=2, num_steps=12, log_every=log_every, checkpoint_every=checkpoint_every
    )
    assert _next_stop(step, config) == expected


def test_sampled_batches_depend_only_on_the_key(mess3):
    key = jax.random.key(7)
    np.testing.assert_array_equal(sample_sequences(mess3, key, 4, 9), sample_sequences(mess3, key, 4, 9))
    assert sample_sequences(mess3, key, 4, 9).shape == (4, 9)


def test_a_huge_learning_rate_stops_the_run_naming_the_step(mess3):
    model = build_transformer(vocab_size=3, d_model=16, num_layers=1, num_heads=2, mlp_hidden=32, max_sequence_len=8)
    with pytest.raises(NonFiniteLossError, match=r"loss became non-finite at step \d+$"):
        train(
            model,
            mess3,
            optax.sgd(1e6),
            TrainingConfig(sequence_len=8, batch_size=8, num_steps=50, log_every=10),
            seed=0,
        )


def test_logged_learning_rate_follows_the_schedule(mess3, tiny_gru_rnn):
    schedule = learning_rate_schedule("warmup_cosine", 0.01, num_steps=12, warmup_steps=4, final_fraction=0.1)
    records = train(tiny_gru_rnn, mess3, optax.adam(schedule), TINY, seed=0, learning_rate=schedule).metrics
    assert "learning_rate" not in records[0]  # step 0: no step has been taken with any learning rate
    records = records[1:]
    assert [round(r["learning_rate"], 6) for r in records] == [
        round(float(np.asarray(schedule(s - 1))), 6) for s in (4, 8, 12)
    ]
    assert records[0]["learning_rate"] == pytest.approx(0.01 * 3 / 4)


def test_checkpoint_steps_add_checkpoints_without_moving_the_others(mess3, tiny_gru_rnn, tmp_path):
    config = TrainingConfig(
        sequence_len=8, batch_size=8, num_steps=12, log_every=4, checkpoint_every=6, checkpoint_steps=[1, 5]
    )
    checkpointer = Checkpointer(tmp_path / "checkpoints")
    result = train(tiny_gru_rnn, mess3, optax.adam(1e-3), config, seed=0, checkpointer=checkpointer)
    checkpointer.close()
    assert Checkpointer(tmp_path / "checkpoints").steps() == [1, 5, 6, 12]
    assert [record["step"] for record in result.metrics] == [0, 4, 8, 12]


def test_step_zero_is_checkpointed_when_listed_and_holds_the_initial_parameters(mess3, tiny_gru_rnn, tmp_path):
    config = TrainingConfig(
        sequence_len=8, batch_size=8, num_steps=4, log_every=4, checkpoint_every=2, checkpoint_steps=[0]
    )
    optimizer = optax.adam(1e-3)
    checkpointer = Checkpointer(tmp_path / "checkpoints")
    train(tiny_gru_rnn, mess3, optimizer, config, seed=0, checkpointer=checkpointer)
    checkpointer.close()
    reader = Checkpointer(tmp_path / "checkpoints")
    assert reader.steps() == [0, 2, 4]
    initial = initial_train_state(tiny_gru_rnn, optimizer)
    restored = reader.restore(0, initial)
    for leaf, expected in zip(jax.tree.leaves(restored.params), jax.tree.leaves(initial.params), strict=True):
        np.testing.assert_array_equal(leaf, expected)
    # Without it step 0 is not saved, whatever checkpoint_every says.
    plain = Checkpointer(tmp_path / "plain")
    train(tiny_gru_rnn, mess3, optimizer, replace(config, checkpoint_steps=None), seed=0, checkpointer=plain)
    plain.close()
    assert Checkpointer(tmp_path / "plain").steps() == [2, 4]
