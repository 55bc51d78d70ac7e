"""Validation: a fixed set of sequences, the model's loss at every context position, and the optimum there."""

from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from simplexity.generative_processes import GenerativeProcess, SpecialTokenProcess, myopic_entropy
from simplexity.predictive_models import PredictiveModel
from simplexity.training.data import sample_sequences
from simplexity.training.loss import cross_entropy

_VALIDATION_DATA_STREAM = 2


# Myopic entropies are enumerated until successive values differ by less than this; later positions take the
# converged value (see `myopic_entropy`).
OPTIMUM_TOLERANCE = 1e-7


def optimal_loss_per_position(process: GenerativeProcess, sequence_len: int) -> np.ndarray:
    """Returns the lowest expected next-token loss (nats) at each of `sequence_len` input positions.

    Input position `t` has seen tokens `0..t` and predicts token `t + 1`. Without special tokens that is the
    myopic entropy `h(t + 2)`; after a BOS token, content token `t + 1` follows `t` content tokens, so `h(t + 1)`;
    an EOS target is certain (0 nats).

    Arguments:
        process: the validation process (a `SpecialTokenProcess` is unwrapped).
        sequence_len: the model's context length, `training.sequence_len`.
    """
    if isinstance(process, SpecialTokenProcess):
        has_bos, has_eos = process.bos_token is not None, process.eos_token is not None
        content = myopic_entropy(process.process, sequence_len + 1, tolerance=OPTIMUM_TOLERANCE)
        optimum = content[:sequence_len] if has_bos else content[1 : sequence_len + 1]
        if has_eos:
            optimum = np.concatenate([optimum[: sequence_len - 1], [0.0]])
        return optimum
    return myopic_entropy(process, sequence_len + 1, tolerance=OPTIMUM_TOLERANCE)[1:]


@dataclass(frozen=True)
class ValidationConfig:
    """What to validate on.

    Arguments:
        process: the validation data generator (the same process as training, or another one).
        num_sequences: how many fixed sequences to evaluate.
        seed: the validation set is drawn once from this seed, independently of the training data.
    """

    process: GenerativeProcess
    num_sequences: int
    seed: int


class Validator:
    """Evaluates a model on a fixed validation set; returns `validation/...` metrics.

    Metrics: `loss`, `accuracy` (of the most likely token), `excess_loss` (mean over positions of the model's
    loss minus the optimum), and per position `loss_per_position` and `excess_loss_per_position` (lists).
    """

    def __init__(self, model: PredictiveModel, config: ValidationConfig, sequence_len: int):
        key = jax.random.fold_in(jax.random.key(config.seed), _VALIDATION_DATA_STREAM)
        self.tokens = sample_sequences(config.process, key, config.num_sequences, sequence_len + 1)
        self.optimum = optimal_loss_per_position(config.process, sequence_len)
        static = eqx.filter(model, eqx.is_array, inverse=True)

        @jax.jit
        def evaluate(params: Any) -> tuple[Float[Array, " seq"], Float[Array, ""]]:
            model = eqx.combine(params, static)
            # One forward pass gives both the losses and the accuracy.
            logits, targets = model(self.tokens[:, :-1]), self.tokens[:, 1:]
            losses = cross_entropy(logits, targets)
            accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == targets)
            return jnp.mean(losses, axis=0), accuracy

        self._evaluate = evaluate

    def __call__(self, params: Any) -> dict[str, Any]:
        """Returns the validation metrics of the model with these parameters."""
        loss_per_position, accuracy = jax.device_get(self._evaluate(params))
        excess = np.asarray(loss_per_position, dtype=np.float64) - self.optimum
        return {
            "validation/loss": float(np.mean(loss_per_position)),
            "validation/accuracy": float(accuracy),
            "validation/excess_loss": float(np.mean(excess)),
            "validation/loss_per_position": [float(x) for x in loss_per_position],
            "validation/excess_loss_per_position": [float(x) for x in excess],
        }
