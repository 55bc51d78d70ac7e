"""Validation: a fixed set of sequences, the model's loss at every context position, and its exact excess there."""

from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from simplexity.generative_processes import GenerativeProcess, SpecialTokenProcess, myopic_entropy
from simplexity.predictive_models import PredictiveModel, split_parameters
from simplexity.training.data import sample_sequences
from simplexity.training.loss import cross_entropy
from simplexity.training.memory import check_validation_fits

_VALIDATION_DATA_STREAM = 2


# Myopic entropies are enumerated until the convergence rule bounds their remaining decrease by this; later
# positions take the last value (see `myopic_entropy`).
OPTIMUM_TOLERANCE = 1e-6


def optimal_loss_per_position(process: GenerativeProcess, sequence_len: int) -> np.ndarray:
    """Returns the lowest expected next-token loss (nats) at each of `sequence_len` input positions.

    Input position `t` has seen tokens `0..t` and predicts token `t + 1`: the myopic entropy `h(t + 2)`. After a
    BOS token that is the content's `h(t + 1)`, since `h(1) = 0` for the framed process; an EOS target is
    certain (0 nats).

    Arguments:
        process: the validation process.
        sequence_len: the model's context length, `training.sequence_len`.
    """
    optimum = myopic_entropy(process, sequence_len + 1, tolerance=OPTIMUM_TOLERANCE)[1:]
    if isinstance(process, SpecialTokenProcess) and process.eos_token is not None:
        optimum[-1] = 0.0
    return optimum


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


@eqx.filter_jit
def _evaluate(
    model: PredictiveModel, tokens: Array, exact: Array, exact_log: Array
) -> tuple[Float[Array, " seq"], Float[Array, " seq"], Float[Array, ""]]:
    """Returns the loss and the exact excess per position, and the accuracy; compiled once per model structure."""
    # One forward pass gives the losses, the divergences and the accuracy.
    logits, targets = model(tokens[:, :-1]), tokens[:, 1:]
    losses = cross_entropy(logits, targets)
    log_model = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
    divergences = jnp.sum(jnp.where(exact > 0, exact * (exact_log - log_model), 0.0), axis=-1)
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == targets)
    return jnp.mean(losses, axis=0), jnp.mean(jnp.maximum(divergences, 0.0), axis=0), accuracy


class Validator:
    """Evaluates a model on a fixed validation set; returns `validation/...` metrics.

    Metrics: `loss` (the sampled cross-entropy of the next token), `accuracy` (of the most likely token),
    `excess_loss` and per position `loss_per_position` and `excess_loss_per_position` (lists).

    `excess_loss` is the exact expected excess loss: at each position of each validation sequence, the KL
    divergence `sum_x p(x) (log p(x) - log q(x))` of the model's next-token distribution `q` from the process's
    exact one `p` (float64, from the belief state there, cast to float32 on the device), averaged. It is free of
    the next token's sampling noise, so small gaps between models mean something; a context whose divergence
    comes out below 0 by float32 rounding counts as 0, so it is never negative.
    """

    def __init__(self, model: PredictiveModel, config: ValidationConfig, sequence_len: int):
        process = config.process
        check_validation_fits(config.num_sequences, sequence_len, process.vocab_size, process.num_states)
        key = jax.random.fold_in(jax.random.key(config.seed), _VALIDATION_DATA_STREAM)
        self.tokens = sample_sequences(config.process, key, config.num_sequences, sequence_len + 1)
        exact = config.process.next_token_distributions(np.asarray(self.tokens[:, :-1]))
        self.exact_probabilities = jnp.asarray(exact, dtype=jnp.float32)
        self.exact_log_probabilities = jnp.asarray(np.log(np.where(exact > 0, exact, 1.0)), dtype=jnp.float32)
        _, self._static = split_parameters(model)

    def __call__(self, params: Any) -> dict[str, Any]:
        """Returns the validation metrics of the model with these parameters."""
        model = eqx.combine(params, self._static)
        loss_per_position, excess_per_position, accuracy = jax.device_get(
            _evaluate(model, self.tokens, self.exact_probabilities, self.exact_log_probabilities)
        )
        return {
            "validation/loss": float(np.mean(loss_per_position)),
            "validation/accuracy": float(accuracy),
            "validation/excess_loss": float(np.mean(excess_per_position)),
            "validation/loss_per_position": [float(x) for x in loss_per_position],
            "validation/excess_loss_per_position": [float(x) for x in excess_per_position],
        }
