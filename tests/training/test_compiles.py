"""What the trainer compiles: each chunk length once, nothing after the first chunk of each length, one program for
every seed and every process of the same sizes."""

from typing import Any

import jax
import optax
import pytest

from simplexity.generative_processes import build_hidden_markov_model
from simplexity.predictive_models import split_parameters
from simplexity.training import (
    TrainingConfig,
    ValidationConfig,
    initial_train_state,
    make_train_chunk,
    train,
    training_data_key,
)

BACKEND_COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"  # recorded by JAX for every XLA compile


class CompileCounter:
    """Counts XLA compiles by function name while registered; a logger of the count at every logged step."""

    def __init__(self):
        self.names: list[str] = []
        self.at_step: dict[int, int] = {}

    def __call__(self, event: str, duration_secs: float, **kwargs: str | int) -> None:
        if event == BACKEND_COMPILE_EVENT:
            self.names.append(str(kwargs.get("fun_name")))

    def log_config(self, config: dict[str, Any]) -> None: ...

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        self.at_step[step] = len(self.names)

    def log_artifacts(self, paths: Any) -> None: ...

    def log_provenance(self, record: dict[str, Any]) -> None: ...

    def close(self, failed: bool = False) -> None: ...


@pytest.fixture
def compiles():
    counter = CompileCounter()
    jax.monitoring.register_event_duration_secs_listener(counter)
    yield counter
    jax.monitoring.unregister_event_duration_listener(counter)


def run(model, process, config, counter):
    validation = ValidationConfig(process=process, num_sequences=16, seed=0)
    train(model, process, optax.adam(1e-2), config, seed=0, validation=validation, loggers=[counter])


def test_one_chunk_length_compiles_once_and_nothing_after_the_first_chunk(mess3, tiny_gru_rnn, compiles):
    run(tiny_gru_rnn, mess3, TrainingConfig(sequence_len=8, batch_size=8, num_steps=8, log_every=2), compiles)
    assert compiles.names.count("jit(train_chunk)") == 1
    first = compiles.at_step[2]
    assert first > 0  # the counter sees compiles at all
    assert [compiles.at_step[step] for step in (4, 6, 8)] == [first] * 3  # validation included


def test_each_chunk_length_compiles_once(mess3, tiny_gru_rnn, compiles):
    # Logs every 4 steps and checkpoint stops at 1, 5 and 9: chunks of 1 and 3 steps, alternately.
    config = TrainingConfig(sequence_len=8, batch_size=8, num_steps=12, log_every=4, checkpoint_steps=[1, 5, 9])
    run(tiny_gru_rnn, mess3, config, compiles)
    assert compiles.names.count("jit(train_chunk)") == 2
    assert compiles.at_step[8] == compiles.at_step[12] == compiles.at_step[4]


def test_runs_that_differ_in_seed_or_process_parameters_compile_one_program(tiny_gru_rnn):
    optimizer = optax.adam(1e-2)
    config = TrainingConfig(sequence_len=8, batch_size=8, num_steps=4, log_every=4)
    chunk = make_train_chunk(tiny_gru_rnn, optimizer, config)
    state, (initial_params, _) = initial_train_state(tiny_gru_rnn, optimizer), split_parameters(tiny_gru_rnn)

    def program(process, seed):
        return chunk.lower(state, initial_params, process, training_data_key(seed), 4).as_text()  # pyright: ignore

    paper = program(build_hidden_markov_model("mess3", x=0.15, a=0.6), seed=0)
    assert program(build_hidden_markov_model("mess3", x=0.05, a=0.85), seed=1) == paper
    assert program(build_hidden_markov_model("zero_one_random", p=0.5), seed=0) != paper  # 3 states, 2 tokens
