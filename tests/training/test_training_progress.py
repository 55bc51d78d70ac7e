"""What `train` shows while it runs, and the step-0 record and wall time of its metrics."""

import optax

from simplexity.predictive_models import build_gru_rnn
from simplexity.training import TrainingConfig, train

CONFIG = TrainingConfig(sequence_len=8, batch_size=8, num_steps=4, log_every=1)


def tiny_model():
    return build_gru_rnn(vocab_size=3, embedding_size=4, num_layers=1, hidden_size=8, seed=0)


def test_train_prints_nothing_by_default_and_its_progress_when_asked(mess3, capsys):
    quiet = train(tiny_model(), mess3, optax.adam(1e-2), CONFIG, seed=0)
    assert capsys.readouterr().out == ""
    shown = train(tiny_model(), mess3, optax.adam(1e-2), CONFIG, seed=0, progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("compiled the training step (1 steps per call) in ")
    steps = [line.split(" step ")[1].split()[0] for line in lines[:1] + lines[2:6]]
    assert steps == ["0/4", "1/4", "2/4", "3/4", "4/4"]
    assert lines[6].startswith(f"finished at step 4/4; loss={shown.metrics[-1]['loss']:.5f}; wall time ")
    assert len(lines) == 7
    assert [record["loss"] for record in quiet.metrics] == [record["loss"] for record in shown.metrics]


def test_the_step_0_record_is_the_initial_loss_on_the_first_batch_and_every_record_has_its_wall_time(mess3):
    result = train(tiny_model(), mess3, optax.adam(1e-2), CONFIG, seed=0)
    assert [record["step"] for record in result.metrics] == [0, 1, 2, 3, 4]
    first, step_1 = result.metrics[0], result.metrics[1]
    assert first["tokens_seen"] == 0.0
    # Logging every step, step 1's loss is the first optimizer step's: the initial parameters on the same batch,
    # computed inside the compiled chunk.
    assert abs(first["loss"] - step_1["loss"]) <= 1e-6 * step_1["loss"]
    assert step_1["loss_min"] == step_1["loss"]
    times = [record["wall_time"] for record in result.metrics]
    assert times[0] > 0 and times == sorted(times)
