"""Belief-state geometry of a model: linear probes from its activations to the process's exact beliefs.

Following Shai et al., "Transformers represent belief state geometry in their residual stream" (2024): run the
model on every context (`belief_dataset`), regress the exact belief after each context on the activations at the
context's last position, and compare the model's expected loss at each position with the myopic entropy.
"""

import re
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int

from simplexity.analysis.belief_dataset import BeliefDataset, belief_dataset
from simplexity.analysis.pca import PCA, fit_pca
from simplexity.analysis.regression import ProbeResult, fit_probe, train_test_split
from simplexity.generative_processes import GenerativeProcess
from simplexity.generative_processes.information import entropy
from simplexity.predictive_models import PredictiveModel, capture_activations

CONCATENATED = "concatenated"


@dataclass(frozen=True)
class ModelOutputs:
    """What a model computes at the last position of each context.

    Arguments:
        activations: activation name to features, each shape `(n, features)`, float64.
        log_probabilities: the model's next-token log-probabilities, shape `(n, vocab)`, float64.
    """

    activations: dict[str, np.ndarray]
    log_probabilities: np.ndarray


def _layer_order(name: str) -> tuple[bool, list[Any]]:
    """Sort key: the embedding first, then names in natural order (`block_2` before `block_10`)."""
    return name != "embedding", [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


@eqx.filter_jit
def _last_positions(
    model: PredictiveModel, tokens: Int[Array, "batch seq"], positions: Int[Array, " batch"]
) -> tuple[dict[str, Array], Array]:
    rows = jnp.arange(tokens.shape[0])
    activations = {name: value[rows, positions] for name, value in capture_activations(model, tokens).items()}
    logits = model(tokens)[rows, positions].astype(jnp.float32)
    return activations, jax.nn.log_softmax(logits, axis=-1)


def model_outputs(model: PredictiveModel, dataset: BeliefDataset, batch_size: int = 4096) -> ModelOutputs:
    """Runs `model` on every context of `dataset` and keeps what it computes at each context's last position.

    Batches are padded to `batch_size`, so the model is compiled once.

    Raises:
        ActivationsUnavailableError: when the model exposes no activations (checked before anything runs).
    """
    example = jax.ShapeDtypeStruct((1, dataset.max_context_len), jnp.int32)
    jax.eval_shape(lambda tokens: capture_activations(model, tokens), example)
    count = len(dataset)
    batch_size = min(batch_size, count)
    padding = -count % batch_size
    tokens = np.pad(dataset.tokens, ((0, padding), (0, 0)))
    positions = np.pad(dataset.positions, (0, padding)).astype(np.int32)
    chunks: list[tuple[dict[str, Array], Array]] = []
    for start in range(0, len(tokens), batch_size):
        stop = start + batch_size
        chunks.append(_last_positions(model, jnp.asarray(tokens[start:stop]), jnp.asarray(positions[start:stop])))
    # The one device-to-host transfer: every chunk's last-position activations and log-probabilities.
    chunks = jax.device_get(chunks)
    names = sorted(chunks[0][0], key=_layer_order)
    activations = {
        name: np.concatenate([chunk[0][name] for chunk in chunks]).astype(np.float64)[:count] for name in names
    }
    log_probabilities = np.concatenate([chunk[1] for chunk in chunks]).astype(np.float64)[:count]
    return ModelOutputs(activations=activations, log_probabilities=log_probabilities)


@dataclass(frozen=True)
class BeliefGeometry:
    """The analysis of one model on one process.

    Arguments:
        dataset: the contexts analysed.
        train: indices of the contexts the probes were fitted on.
        test: indices of the held-out contexts they were scored on.
        probes: activation name (and `"concatenated"`, all of them side by side) to its fitted probe.
        predictions: activation name to the probe's predicted belief for every context, shape `(n, states)`.
        pcas: activation name to the probability-weighted PCA of its activations.
        model_losses: the model's expected cross-entropy (nats) at input positions `0..L-1`, shape `(L,)`.
        myopic_entropies: the lowest achievable expected loss at the same positions, `H(X_{t+2} | X_1..X_{t+1})`,
            shape `(L,)`.
    """

    dataset: BeliefDataset
    train: np.ndarray
    test: np.ndarray
    probes: dict[str, ProbeResult]
    predictions: dict[str, np.ndarray]
    pcas: dict[str, PCA]
    model_losses: np.ndarray
    myopic_entropies: np.ndarray

    def summary(self, num_pca_components: int = 10) -> dict[str, Any]:
        """Returns the numbers of the analysis as plain JSON-ready values (NaN becomes None)."""

        def number(value: float) -> float | None:
            return float(value) if np.isfinite(value) else None

        return {
            "max_context_len": self.dataset.max_context_len,
            "num_contexts": len(self.dataset),
            "num_test_contexts": len(self.test),
            "regression": {
                name: {"r2": number(probe.r2), "rmse": number(probe.rmse), "train_r2": number(probe.train_r2)}
                for name, probe in self.probes.items()
            },
            "pca_explained_variance_ratio": {
                name: [float(value) for value in pca.explained_variance_ratio[:num_pca_components]]
                for name, pca in self.pcas.items()
            },
            "position_loss": {
                "model": [float(value) for value in self.model_losses],
                "myopic_entropy": [float(value) for value in self.myopic_entropies],
                "max_abs_difference": float(np.max(np.abs(self.model_losses - self.myopic_entropies))),
            },
        }


def analyze_contexts(
    model: PredictiveModel,
    dataset: BeliefDataset,
    *,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    batch_size: int = 4096,
) -> BeliefGeometry:
    """Probes `model`'s activations for the beliefs of `dataset` and measures its loss at every position.

    Arguments:
        model: a predictive model with an `activations(tokens)` method, trained on the dataset's process.
        dataset: the contexts to analyse, with their beliefs.
        test_fraction: the share of contexts held out from fitting the probes.
        split_seed: seed of the train/test split.
        batch_size: contexts per forward pass.

    Raises:
        ActivationsUnavailableError: when the model exposes no activations.
    """
    outputs = model_outputs(model, dataset, batch_size)
    train, test = train_test_split(len(dataset), test_fraction, split_seed)
    features = dict(outputs.activations)
    features[CONCATENATED] = np.concatenate(list(outputs.activations.values()), axis=1)
    probes = {
        name: fit_probe(values, dataset.beliefs, dataset.probabilities, train, test)
        for name, values in features.items()
    }
    cross_entropy = -np.sum(dataset.next_token_probabilities * outputs.log_probabilities, axis=1)
    return BeliefGeometry(
        dataset=dataset,
        train=train,
        test=test,
        probes=probes,
        predictions={name: probes[name].affine_map(values) for name, values in features.items()},
        pcas={name: fit_pca(values, weights=dataset.probabilities) for name, values in outputs.activations.items()},
        model_losses=dataset.per_position(cross_entropy),
        myopic_entropies=dataset.per_position(entropy(dataset.next_token_probabilities)),
    )


def analyze_model(
    model: PredictiveModel,
    process: GenerativeProcess,
    max_context_len: int,
    *,
    min_probability: float = 0.0,
    max_contexts: int | None = None,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    batch_size: int = 4096,
) -> BeliefGeometry:
    """Returns `analyze_contexts` on every context of `process` up to `max_context_len` tokens.

    Arguments:
        model: a predictive model with an `activations(tokens)` method.
        process: the process the model was trained on.
        max_context_len: the longest context analysed (see `belief_dataset` for how `max_contexts` shortens it).
        min_probability: contexts of at most this probability are left out.
        max_contexts: the most contexts to analyse; None for no limit.
        test_fraction: the share of contexts held out from fitting the probes.
        split_seed: seed of the train/test split.
        batch_size: contexts per forward pass.

    Raises:
        ActivationsUnavailableError: when the model exposes no activations.

    Example:
        >>> geometry = analyze_model(model, build_hidden_markov_model("mess3", x=0.05, a=0.85), 10)
        >>> geometry.probes["concatenated"].r2
    """
    dataset = belief_dataset(process, max_context_len, min_probability, max_contexts)
    return analyze_contexts(model, dataset, test_fraction=test_fraction, split_seed=split_seed, batch_size=batch_size)
