"""Choosing the checkpoint to resume from when some are damaged, as the writing process and as the others."""

import os

import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.config.schema import PredictiveModelConfig
from simplexity.persistence import Checkpointer, resolve_resume

TEMPLATE = {"weight": jnp.zeros((64, 64)), "step": jnp.asarray(0)}


@pytest.fixture
def checkpoints(tmp_path):
    """Checkpoints 2, 4 and 6 of a small state, 6 damaged (its largest data file truncated)."""
    directory = tmp_path / "checkpoints"
    with Checkpointer(directory) as checkpointer:
        for step in (2, 4, 6):
            weight = jnp.asarray(np.random.default_rng(step).normal(size=(64, 64)), dtype=jnp.float32)
            checkpointer.save(step, {"weight": weight, "step": jnp.asarray(step)})
    data = [path for path in (directory / "6").rglob("*") if path.is_file() and "/d/" in str(path)]
    os.truncate(max(data, key=lambda path: path.stat().st_size), 10)
    return directory


def latest() -> PredictiveModelConfig:
    return PredictiveModelConfig(name="m", load_checkpoint_step="latest", instance={})


def test_the_writer_moves_a_damaged_latest_aside_and_resumes_from_the_newest_good(checkpoints):
    notices: list[str] = []
    state, step = resolve_resume(latest(), checkpoints, TEMPLATE, notify=notices.append)
    assert step == 4 and state is not None and int(state["step"]) == 4
    assert (checkpoints / "6.damaged").is_dir() and not (checkpoints / "6").exists()
    assert len(notices) == 1 and notices[0].startswith(f"warning: checkpoint 6 in {checkpoints} is damaged (")


def test_another_process_skips_it_the_same_way_and_leaves_it_in_place_silently(checkpoints):
    notices: list[str] = []
    state, step = resolve_resume(latest(), checkpoints, TEMPLATE, notify=notices.append, writer=False)
    assert step == 4 and state is not None and int(state["step"]) == 4
    assert (checkpoints / "6").is_dir() and not (checkpoints / "6.damaged").exists()
    assert notices == []
