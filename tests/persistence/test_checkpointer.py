import jax.numpy as jnp
import numpy as np

from simplexity.persistence import Checkpointer


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
