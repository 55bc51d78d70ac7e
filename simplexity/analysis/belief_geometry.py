"""Belief-state geometry of a model: linear probes from its activations to the process's exact beliefs.

Following Shai et al., "Transformers represent belief state geometry in their residual stream" (2024): run the
model on every context (`belief_dataset`), regress the exact belief after each context on the activations at the
context's last position, and compare the model's expected loss at each position with the myopic entropy.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Int

from simplexity.analysis.belief_dataset import BeliefDataset, belief_dataset
from simplexity.analysis.controls import (
    belief_scale,
    best_markov_order,
    is_exact,
    markov_baselines,
    rmse_ratio,
    shuffled_target_probe,
)
from simplexity.analysis.pca import PCA, fit_pca
from simplexity.analysis.regression import (
    ProbeResult,
    effective_sample_size,
    fit_probe,
    scores_per_group,
    train_test_split,
)
from simplexity.analysis.settings import WEIGHTINGS
from simplexity.generative_processes import GenerativeProcess
from simplexity.generative_processes.information import entropy
from simplexity.predictive_models import (
    AbstractSiteModel,
    ActivationsUnavailableError,
    PredictiveModel,
    capture_activations,
)

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


@eqx.filter_jit
def _last_positions(
    model: PredictiveModel,
    tokens: Int[Array, "batch seq"],
    positions: Int[Array, " batch"],
    sites: tuple[str, ...] | None,
) -> tuple[dict[str, Array], Array]:
    rows = jnp.arange(tokens.shape[0])
    activations = {name: value[rows, positions] for name, value in capture_activations(model, tokens, sites).items()}
    logits = model(tokens)[rows, positions].astype(jnp.float32)
    return activations, jax.nn.log_softmax(logits, axis=-1)


def model_outputs(
    model: PredictiveModel, dataset: BeliefDataset, batch_size: int = 4096, sites: Sequence[str] | None = None
) -> ModelOutputs:
    """Runs `model` on every context of `dataset` and keeps what it computes at each context's last position.

    Batches are padded to `batch_size`, so the model is compiled once.

    Arguments:
        model: a model with named activation sites.
        dataset: the contexts.
        batch_size: contexts per forward pass.
        sites: the sites whose activations to keep, each `(batch, seq, features)`; None for the model's default
            sites (the embedding and each layer's output).

    Raises:
        ActivationsUnavailableError: when the model has no sites, or not one of `sites` (checked before anything
            runs).
    """
    site_names = None if sites is None else tuple(sites)
    example = jax.ShapeDtypeStruct((1, dataset.max_context_len), jnp.int32)
    shapes = jax.eval_shape(lambda tokens: capture_activations(model, tokens, site_names), example)
    for name, shape in shapes.items():
        if len(shape.shape) != 3:
            raise ActivationsUnavailableError(
                f"site {name!r} has shape {tuple(shape.shape)} per batch; a probe reads sites of shape "
                "(batch, seq, features)"
            )
    count = len(dataset)
    batch_size = min(batch_size, count)
    padding = -count % batch_size
    tokens = np.pad(dataset.tokens, ((0, padding), (0, 0)))
    positions = np.pad(dataset.positions, (0, padding)).astype(np.int32)
    chunks: list[tuple[dict[str, Array], Array]] = []
    for start in range(0, len(tokens), batch_size):
        stop = start + batch_size
        chunks.append(
            _last_positions(model, jnp.asarray(tokens[start:stop]), jnp.asarray(positions[start:stop]), site_names)
        )
    # The one device-to-host transfer: every chunk's last-position activations and log-probabilities.
    chunks = jax.device_get(chunks)
    # In the order of the model's sites (a dict through `jax.eval_shape` comes back sorted by name).
    order = model.sites if isinstance(model, AbstractSiteModel) else tuple(shapes)
    activations = {
        name: np.concatenate([chunk[0][name] for chunk in chunks]).astype(np.float64)[:count]
        for name in sorted(shapes, key=order.index)
    }
    log_probabilities = np.concatenate([chunk[1] for chunk in chunks]).astype(np.float64)[:count]
    return ModelOutputs(activations=activations, log_probabilities=log_probabilities)


VARIANCE_SHARES = (0.8, 0.9, 0.95, 0.99)


@dataclass(frozen=True)
class UntrainedControl:
    """The untrained model's probes on a set of contexts, and its concatenated probe's prediction for each context.

    Arguments:
        probes: activation name (and `"concatenated"`) to the probe fitted on the untrained model's activations.
        predictions: the concatenated probe's predicted belief for every context, shape `(n, states)`.
    """

    probes: dict[str, ProbeResult]
    predictions: np.ndarray


@dataclass(frozen=True)
class BeliefGeometry:
    """The analysis of one model on one process, with its controls.

    Arguments:
        dataset: the contexts analysed.
        probed: indices of the contexts the probes use (every context, or the full-length ones only).
        weights: the weight of each context in fitting and scoring the probes, shape `(n,)`.
        train: indices of the contexts the probes were fitted on (a subset of `probed`).
        test: indices of the held-out contexts they were scored on.
        probes: activation name (and `"concatenated"`, all of them side by side) to its fitted probe.
        predictions: activation name to the probe's predicted belief for every context, shape `(n, states)`.
        per_position: activation name to the held-out R^2 and RMSE at each input position, each shape `(L,)`.
        pcas: activation name to the weighted PCA of its activations over the probed contexts.
        untrained_probes: the same probes on the untrained model (same architecture and seed, step 0); None when
            no untrained model was given.
        untrained_control: those probes with their concatenated prediction, to pass to another analysis of the
            same contexts and settings instead of fitting them again.
        shuffled_probes: activation name to the probe fitted to shuffled training beliefs.
        markov_probes: order `k` to the order-k Markov baseline probe.
        control_predictions: label to the predicted beliefs (shape `(n, states)`) and held-out R^2 of the best
            Markov baseline and (when given) the untrained model's concatenated probe, for figures.
        model_losses: the model's expected cross-entropy (nats) at input positions `0..L-1`, shape `(L,)`.
        myopic_entropies: the lowest achievable expected loss at the same positions, `H(X_{t+2} | X_1..X_{t+1})`,
            shape `(L,)`.
    """

    dataset: BeliefDataset
    probed: np.ndarray
    weights: np.ndarray
    train: np.ndarray
    test: np.ndarray
    probes: dict[str, ProbeResult]
    predictions: dict[str, np.ndarray]
    per_position: dict[str, tuple[np.ndarray, np.ndarray]]
    pcas: dict[str, PCA]
    untrained_probes: dict[str, ProbeResult] | None
    untrained_control: UntrainedControl | None
    shuffled_probes: dict[str, ProbeResult]
    markov_probes: dict[int, ProbeResult]
    control_predictions: dict[str, tuple[np.ndarray, float]]
    model_losses: np.ndarray
    myopic_entropies: np.ndarray

    @property
    def belief_scale(self) -> float:
        """The held-out beliefs' weighted root mean square, the scale an exact control's RMSE is measured on."""
        return belief_scale(self.dataset.beliefs[self.test], self.weights[self.test])

    @property
    def best_markov_order(self) -> int:
        """The lowest order whose Markov baseline is exact, else the one of lowest held-out RMSE."""
        return best_markov_order(self.markov_probes, self.belief_scale)

    @property
    def best_markov_exact(self) -> bool:
        """Whether the best Markov baseline predicts every held-out belief exactly (to float64 rounding)."""
        return is_exact(self.markov_probes[self.best_markov_order].rmse, self.belief_scale)

    @property
    def predictable_information_captured(self) -> float:
        """The share of the predictable information the model captures over the analysed positions.

        `sum_t (h(1) - loss_t) / sum_t (h(1) - h(t + 2))` with `loss_t` the model's exact expected loss at input
        position `t` (predicting token `t + 2` from the first `t + 1`), `h(t + 2)` the least achievable there and
        `h(1)` the entropy of a single token: 1 for the optimal predictor, 0 for one that predicts only the
        tokens' frequencies. Exact when every context is enumerated; NaN for a process with nothing to predict
        (`h(L) = h(1)`).
        """
        single_tokens = self.dataset.lengths == 1
        first_token = self.dataset.probabilities[single_tokens]
        first_token_entropy = float(entropy(first_token / first_token.sum()))
        predictable = float(np.sum(first_token_entropy - self.myopic_entropies))
        captured = float(np.sum(first_token_entropy - self.model_losses))
        return captured / predictable if predictable > 1e-12 else float("nan")

    @property
    def predictable_information_error_bound(self) -> float | None:
        """The bound on `predictable_information_captured`'s error: 0 when every context is there, else None.

        With every context of every analysed length enumerated the value is exact to float64 rounding. Contexts
        left out (`min_probability`, or `contexts=sample`) leave it unbounded: the model's loss on a context it
        was not run on can be any amount above that context's entropy.
        """
        covered = self.dataset.covered_probability
        return 0.0 if covered is not None and bool(np.all(np.abs(covered - 1.0) <= 1e-12)) else None

    def summary(self, num_pca_components: int = 10) -> dict[str, Any]:
        """Returns the numbers of the analysis as plain JSON-ready values (NaN becomes None).

        Each probe reports its held-out R^2 and RMSE, its RMSE relative to the untrained model's probe of the same
        activation (`rmse_over_untrained`) and to the best Markov baseline's (`rmse_over_best_markov`), and both
        scores at each position. A ratio to a control that is exact (`controls.is_exact`: its RMSE is 0 to float64
        rounding) is undefined, None, and the control says `"exact": true` (`best_markov_exact` for the baseline).
        """

        def number(value: float) -> float | None:
            return float(value) if np.isfinite(value) else None

        def scores(probe: ProbeResult) -> dict[str, float | None]:
            return {"r2": number(probe.r2), "rmse": number(probe.rmse)}

        def probe_scores(probe: ProbeResult) -> dict[str, float | None]:
            return {**scores(probe), "ridge": probe.ridge}  # a fitted probe's penalty; the baselines have none

        scale = self.belief_scale

        def control_scores(probe: ProbeResult) -> dict[str, Any]:
            return {**scores(probe), "exact": is_exact(probe.rmse, scale)}

        best_markov = self.markov_probes[self.best_markov_order].rmse
        regression = {}
        for name, probe in self.probes.items():
            untrained = None if self.untrained_probes is None else self.untrained_probes[name].rmse
            r2_by_position, rmse_by_position = self.per_position[name]
            regression[name] = {
                **probe_scores(probe),
                "train_r2": number(probe.train_r2),
                "rmse_over_untrained": None if untrained is None else number(rmse_ratio(probe.rmse, untrained, scale)),
                "rmse_over_best_markov": number(rmse_ratio(probe.rmse, best_markov, scale)),
                "per_position": {
                    "r2": [number(value) for value in r2_by_position],
                    "rmse": [number(value) for value in rmse_by_position],
                },
            }
        return {
            "max_context_len": self.dataset.max_context_len,
            "num_contexts": len(self.dataset),
            # The exact probability the analysed contexts of each length hold (1: all of them).
            "covered_probability": None
            if self.dataset.covered_probability is None
            else [float(value) for value in self.dataset.covered_probability],
            "num_probed_contexts": len(self.probed),
            "num_test_contexts": len(self.test),
            # Kish's effective number of equally weighted contexts the probes are fitted on and scored on.
            "effective_train_contexts": effective_sample_size(self.weights[self.train]),
            "effective_test_contexts": effective_sample_size(self.weights[self.test]),
            "regression": regression,
            "controls": {
                "untrained": None
                if self.untrained_probes is None
                else {
                    name: {**control_scores(probe), "ridge": probe.ridge}
                    for name, probe in self.untrained_probes.items()
                },
                "shuffled_targets": {name: probe_scores(probe) for name, probe in self.shuffled_probes.items()},
                "markov": {f"order_{order}": control_scores(probe) for order, probe in self.markov_probes.items()},
                "best_markov_order": self.best_markov_order,
                "best_markov_exact": self.best_markov_exact,
            },
            "pca_explained_variance_ratio": {
                name: [float(value) for value in pca.explained_variance_ratio[:num_pca_components]]
                for name, pca in self.pcas.items()
            },
            "pca_cumulative_explained_variance": {
                name: [float(value) for value in np.cumsum(pca.explained_variance_ratio)]
                for name, pca in self.pcas.items()
            },
            "pca_components_for_variance": {
                name: {str(share): pca.components_for_variance(share) for share in VARIANCE_SHARES}
                for name, pca in self.pcas.items()
            },
            "position_loss": {
                "model": [float(value) for value in self.model_losses],
                "myopic_entropy": [float(value) for value in self.myopic_entropies],
                "max_abs_difference": float(np.max(np.abs(self.model_losses - self.myopic_entropies))),
                "predictable_information_captured": number(self.predictable_information_captured),
                "predictable_information_error_bound": self.predictable_information_error_bound,
            },
        }


def probe_split(
    dataset: BeliefDataset, weights: str, last_position_only: bool, test_fraction: float, split_seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Returns the probed contexts, each context's weight (0 outside them), and the training and held-out ones.

    Raises:
        ValueError: for an unknown `weights`.
    """
    if weights not in WEIGHTINGS:
        raise ValueError(f"weights={weights!r} must be one of {', '.join(WEIGHTINGS)}")
    everything = np.arange(len(dataset))
    probed = np.flatnonzero(dataset.lengths == dataset.max_context_len) if last_position_only else everything
    context_weights = dataset.probabilities if weights == "probability" else np.ones(len(dataset))
    context_weights = np.where(np.isin(everything, probed), context_weights, 0.0)
    train_in_probed, test_in_probed = train_test_split(len(probed), test_fraction, split_seed)
    return probed, context_weights, probed[train_in_probed], probed[test_in_probed]


def probe_features(outputs: ModelOutputs) -> dict[str, np.ndarray]:
    """Returns the features probed: each activation, and all of them side by side (`"concatenated"`)."""
    features = dict(outputs.activations)
    features[CONCATENATED] = np.concatenate(list(outputs.activations.values()), axis=1)
    return features


def analyze_contexts(
    model: PredictiveModel,
    dataset: BeliefDataset,
    *,
    untrained: "PredictiveModel | UntrainedControl | None" = None,
    weights: str = "probability",
    last_position_only: bool = False,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    ridge: float | None = None,
    batch_size: int = 4096,
    sites: Sequence[str] | None = None,
) -> BeliefGeometry:
    """Probes `model`'s activations for the beliefs of `dataset`, with controls, and measures its loss by position.

    Arguments:
        model: a predictive model with named activation sites, trained on the dataset's process.
        dataset: the contexts to analyse, with their beliefs.
        untrained: the same architecture at its initialisation, probed the same way as a control, or its probes
            already fitted on these contexts and settings (`BeliefGeometry.untrained_control`, so that analyses of
            several checkpoints fit them once); None skips the control.
        weights: `probability` weighs each context by its probability (every position then counts equally, as in
            the training loss); `uniform` counts every distinct context once.
        last_position_only: probe only the full-length contexts (`dataset.max_context_len` tokens).
        test_fraction: the share of probed contexts held out from fitting the probes.
        split_seed: seed of the train/test split, of the cross-validation folds and of the shuffled-target control.
        ridge: the probes' relative ridge penalty (`fit_affine_map`; 0 for least squares), or None to choose it
            for each probe by cross-validation within the training contexts (`choose_ridge`).
        batch_size: contexts per forward pass.
        sites: the activation sites probed (`(batch, seq, features)` each); None for the model's default sites,
            the embedding and each layer's output.

    Raises:
        ActivationsUnavailableError: when the model has no sites, or not one of `sites`.
        ValueError: for an unknown `weights`.
    """
    outputs = model_outputs(model, dataset, batch_size, sites)
    probed, context_weights, train, test = probe_split(dataset, weights, last_position_only, test_fraction, split_seed)
    features = probe_features(outputs)

    def probe(values: np.ndarray) -> ProbeResult:
        return fit_probe(values, dataset.beliefs, context_weights, train, test, ridge, split_seed)

    probes = {name: probe(values) for name, values in features.items()}
    predictions = {name: probes[name].affine_map(values) for name, values in features.items()}
    markov_probes = markov_baselines(dataset, context_weights, train, test)
    scale = belief_scale(dataset.beliefs[test], context_weights[test])
    best_order = best_markov_order(markov_probes, scale)
    best = markov_probes[best_order]
    exact = " (exact)" if is_exact(best.rmse, scale) else ""
    control_predictions = {
        f"order-{best_order} Markov baseline{exact}": (
            best.affine_map.weights,  # the baseline's prediction for every context
            best.r2,
        )
    }
    control = None
    if isinstance(untrained, UntrainedControl):
        control = untrained
    elif untrained is not None:
        untrained_features = probe_features(model_outputs(untrained, dataset, batch_size, sites))
        fitted = {name: probe(values) for name, values in untrained_features.items()}
        control = UntrainedControl(fitted, fitted[CONCATENATED].affine_map(untrained_features[CONCATENATED]))
    untrained_probes = None if control is None else control.probes
    if control is not None:
        concatenated = control.probes[CONCATENATED]
        exact = " (exact)" if is_exact(concatenated.rmse, scale) else ""
        control_predictions[f"untrained model, concatenated{exact}"] = (control.predictions, concatenated.r2)
    positions = dataset.positions[test]
    cross_entropy = -np.sum(dataset.next_token_probabilities * outputs.log_probabilities, axis=1)
    return BeliefGeometry(
        dataset=dataset,
        probed=probed,
        weights=context_weights,
        train=train,
        test=test,
        probes=probes,
        predictions=predictions,
        per_position={
            name: scores_per_group(
                dataset.beliefs[test],
                predictions[name][test],
                context_weights[test],
                positions,
                dataset.max_context_len,
            )
            for name in features
        },
        pcas={
            name: fit_pca(values[probed], weights=context_weights[probed])
            for name, values in outputs.activations.items()
        },
        untrained_probes=untrained_probes,
        untrained_control=control,
        shuffled_probes={
            name: shuffled_target_probe(values, dataset.beliefs, context_weights, train, test, split_seed, ridge)
            for name, values in features.items()
        },
        markov_probes=markov_probes,
        control_predictions=control_predictions,
        model_losses=dataset.per_position(cross_entropy),
        myopic_entropies=dataset.per_position(entropy(dataset.next_token_probabilities)),
    )


def analyze_model(
    model: PredictiveModel,
    process: GenerativeProcess,
    max_context_len: int,
    *,
    untrained: PredictiveModel | None = None,
    weights: str = "probability",
    last_position_only: bool = False,
    min_probability: float = 0.0,
    max_contexts: int | None = None,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    ridge: float | None = None,
    batch_size: int = 4096,
    sites: Sequence[str] | None = None,
) -> BeliefGeometry:
    """Returns `analyze_contexts` on every context of `process` up to `max_context_len` tokens.

    Arguments:
        model: a predictive model with named activation sites.
        process: the process the model was trained on.
        max_context_len: the longest context analysed (see `belief_dataset` for how `max_contexts` shortens it).
        untrained: the same architecture at its initialisation, probed as a control (see `analyze_contexts`).
        weights: `probability` or `uniform` (see `analyze_contexts`).
        last_position_only: probe only the full-length contexts.
        min_probability: contexts of at most this probability are left out.
        max_contexts: the most contexts to analyse; None for no limit.
        test_fraction: the share of contexts held out from fitting the probes.
        split_seed: seed of the train/test split.
        ridge: the probes' relative ridge penalty, or None to choose it by cross-validation (see `analyze_contexts`).
        batch_size: contexts per forward pass.
        sites: the activation sites probed; None for the model's default sites.

    Raises:
        ActivationsUnavailableError: when the model has no sites, or not one of `sites`.

    Example:
        >>> geometry = analyze_model(model, build_hidden_markov_model("mess3", x=0.05, a=0.85), 10)
        >>> geometry.probes["concatenated"].r2
    """
    dataset = belief_dataset(process, max_context_len, min_probability, max_contexts)
    return analyze_contexts(
        model,
        dataset,
        untrained=untrained,
        weights=weights,
        last_position_only=last_position_only,
        test_fraction=test_fraction,
        split_seed=split_seed,
        ridge=ridge,
        batch_size=batch_size,
        sites=sites,
    )
