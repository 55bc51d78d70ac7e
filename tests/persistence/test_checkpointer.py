import jax.numpy as jnp
import numpy as np
import pytest

from simplexity.persistence import Checkpointer
from simplexity.persistence.checkpointer import CheckpointMismatchError


def test_save_and_restore_round_trip(tmp_path):
    checkpointer = Checkpointer(tmp_path / "checkpoints")
    assert checkpointer.steps() == []
    state = {"weights": jnp.arange(6.0).reshape(2, 3), "step": jnp.asarray(4)}
    checkpointer.save(4, state)
    checkpointer.save(8, {"weights": state["weights"] + 1, "step": jnp.asarray(8)})
    assert checkpointer.steps() == [4, 8]
    restored = Checkpointer(tmp_path / "checkpoints").restore(4, state)
    np.testing.assert_array_equal(restored["weights"], state["weights"])
    assert int(restored["step"]) == 4
    checkpointer.close()


def test_max_to_keep_drops_the_oldest(tmp_path):
    checkpointer = Checkpointer(tmp_path, max_to_keep=2)
    for step in [1, 2, 3]:
        checkpointer.save(step, {"x": jnp.asarray(float(step))})
    assert checkpointer.steps() == [2, 3]
    checkpointer.close()


def test_an_interrupted_write_leaves_the_last_good_checkpoint_readable(tmp_path):
    checkpointer = Checkpointer(tmp_path)
    checkpointer.save(1, {"x": jnp.asarray(1.0)})
    # What a write killed midway leaves behind: orbax's temporary directory, never renamed to its step.
    (tmp_path / "2.orbax-checkpoint-tmp-1234").mkdir()
    (tmp_path / "2.orbax-checkpoint-tmp-1234" / "partial").write_text("truncated")
    reopened = Checkpointer(tmp_path)
    assert reopened.steps() == [1]
    assert float(reopened.restore(1, {"x": jnp.asarray(0.0)})["x"]) == 1.0


def test_restore_part_reads_one_entry_whatever_the_others_hold(tmp_path):
    checkpointer = Checkpointer(tmp_path)
    params = {"weights": jnp.arange(6.0).reshape(2, 3), "bias": jnp.ones(3)}
    # Saved beside entries the reader's template knows nothing of (statistics a different trainer kept).
    checkpointer.save(3, {"params": params, "opt_state": (jnp.zeros(2), {"count": jnp.asarray(7)})})
    template = {"weights": jnp.zeros((2, 3)), "bias": jnp.zeros(3)}
    restored = Checkpointer(tmp_path).restore_part(3, "params", template)
    np.testing.assert_array_equal(restored["weights"], params["weights"])
    np.testing.assert_array_equal(restored["bias"], params["bias"])
    with pytest.raises(CheckpointMismatchError, match=r"weights is \(2, 3\) float32 in the checkpoint, \(3, 2\)"):
        checkpointer.restore_part(3, "params", {"weights": jnp.zeros((3, 2)), "bias": jnp.zeros(3)})
    with pytest.raises(CheckpointMismatchError, match="the checkpoint lacks model"):
        checkpointer.restore_part(3, "model", template)
    checkpointer.close()
