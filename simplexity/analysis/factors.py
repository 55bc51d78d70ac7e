"""The factored-representation analysis: how a model's activations hold the beliefs of independent factors.

For a process whose tokens are tuples of factors' tokens (`FactoredProcess`, `ChainedProcess`, either framed by
BOS or seen through a `NoisyChannel`), three questions about each activation:

- **Targets.** Does a linear probe recover each factor's belief alone, all of them side by side, and the joint
  belief (the exact belief over the joint states, the outer product of the factors' when it factors)?
- **Dimensionality.** How many principal components hold 80/90/95/99% of the (probability-weighted) variance,
  beside two reference lines from the process over the same contexts: the factored dimension `sum(d_n - 1)`, and
  the joint belief's own count at 95%, which grows with the product of the factors' dimensions.
- **Orthogonality**, two ways. (a) *Vary one*: contexts in which every factor but one follows one frozen emission
  sequence while factor `n` is sampled afresh; the top principal directions `V_n` of the activations (centred at
  each position) span what factor `n` moves, and the overlap `||V_m^k V_n^k^T||_F^2 / k` of two factors' top-k
  directions is 0 for orthogonal subspaces and `k / d` for random ones. (b) The principal angles between the
  subspaces of the factors' probe coefficients.
"""

import itertools
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np

from simplexity.analysis.belief_dataset import BeliefDataset
from simplexity.analysis.belief_geometry import CONCATENATED, ModelOutputs, model_outputs, probe_features, probe_split
from simplexity.analysis.pca import fit_pca
from simplexity.analysis.regression import ProbeResult, fit_probe
from simplexity.analysis.subspaces import (
    SubspaceComparison,
    compare_subspaces,
    effective_rank,
    overlap_curve,
    participation_ratio,
    principal_directions,
)
from simplexity.generative_processes import (
    FactoredProcess,
    GenerativeProcess,
    NoisyChannel,
    SpecialTokenProcess,
)
from simplexity.generative_processes.factored import SideBySideFactors
from simplexity.predictive_models import PredictiveModel
from simplexity.training import sample_sequences

# The probe targets besides each factor's belief (`factor_0`, `factor_1`, ...).
ALL_FACTORS, JOINT = "factors", "joint"
DIMENSION_SHARES = (0.8, 0.9, 0.95, 0.99)
# The share at which the joint belief's own dimension is counted, the reference line beside dims@95.
REFERENCE_SHARE = 0.95
# The vary-one sample's draws come from their own stream of the seed.
_VARY_ONE_STREAM = 5


class NotFactoredError(ValueError):
    """The process has no factors to analyse."""


@dataclass(frozen=True)
class FactorStructure:
    """Where the factors of a process are: the factored process, its framing and its channel.

    Arguments:
        factored: the process of side-by-side factors.
        leading_tokens: tokens every sequence starts with before the factors' (1 after BOS, else 0).
        channel: the noisy channel the factors' tokens pass through, or None.
    """

    factored: SideBySideFactors
    leading_tokens: int
    channel: NoisyChannel | None

    @property
    def num_factors(self) -> int:
        """How many factors there are."""
        return len(self.factored.factor_num_states)

    @property
    def factored_dimension(self) -> int:
        """`sum(d_n - 1)`: the dimension of the factors' beliefs side by side, each on its simplex."""
        return sum(d - 1 for d in self.factored.factor_num_states)


def factor_structure(process: GenerativeProcess) -> FactorStructure:
    """Returns where the factors of `process` are, through BOS framing and a noisy channel.

    Raises:
        NotFactoredError: when `process` is not made of factors, or ends its sequences with EOS.
    """
    leading = 0
    if isinstance(process, SpecialTokenProcess):
        if process.eos_token is not None:
            raise NotFactoredError(f"{process.name}: a factored analysis reads sequences framed by BOS alone")
        leading, process = int(process.bos_token is not None), process.process
    channel = None
    if isinstance(process, NoisyChannel):
        channel, process = process, process.process
    if not isinstance(process, SideBySideFactors):
        raise NotFactoredError(
            f"{process.name}: a factored analysis needs a process of factors (generative_process=factored, "
            "chained or factored_noisy)"
        )
    return FactorStructure(process, leading, channel)


def is_factored(process: GenerativeProcess) -> bool:
    """Whether `process` is made of factors a factored analysis can read (see `factor_structure`)."""
    try:
        factor_structure(process)
    except NotFactoredError:
        return False
    return True


def _content(structure: FactorStructure, dataset: BeliefDataset) -> tuple[np.ndarray, np.ndarray]:
    """Returns the factors' part of each context (padded tokens) and its number of tokens."""
    return dataset.tokens[:, structure.leading_tokens :], dataset.lengths - structure.leading_tokens


def factor_targets(process: GenerativeProcess, dataset: BeliefDataset) -> dict[str, np.ndarray]:
    """Returns the exact probe targets of every context: each factor's belief, all side by side, and the joint.

    `factor_n` is factor n's belief after the context, shape `(n, d_n)`; `factors` their concatenation; `joint` the
    exact belief of the (noisy) process over the joint states, shape `(n, prod d_n)`. Through a noisy channel the
    factors' beliefs are updated as if there were no noise (`NoisyChannel.noise_blind_factor_beliefs`) while the
    joint belief is the Bayes-optimal one, which then no longer factors.
    """
    structure = factor_structure(process)
    tokens, lengths = _content(structure, dataset)
    rows = np.arange(len(tokens))
    if structure.channel is not None:
        trajectories = structure.channel.noise_blind_factor_beliefs(tokens)
        joint = structure.channel.bayes_beliefs(tokens)
    else:
        trajectories = structure.factored.factor_beliefs(tokens)
        joint = structure.factored.presentation.filter(tokens)[0]
    targets = {f"factor_{n}": trajectory[rows, lengths] for n, trajectory in enumerate(trajectories)}
    targets[ALL_FACTORS] = np.concatenate(list(targets.values()), axis=1)
    targets[JOINT] = joint[rows, lengths]
    return targets


def dimensions(
    points: np.ndarray, weights: np.ndarray, shares: tuple[float, ...] = DIMENSION_SHARES
) -> dict[float, int]:
    """Returns, for each share, how many principal components of the weighted points hold it."""
    pca = fit_pca(points, weights=weights)
    return {share: pca.components_for_variance(share) for share in shares}


def vary_one_tokens(
    process: GenerativeProcess, factor: int, num_sequences: int, sequence_len: int, key: jax.Array
) -> np.ndarray:
    """Returns sequences in which every factor but `factor` follows one frozen emission sequence.

    The frozen sequences are one draw of each other factor; `factor`'s tokens are `num_sequences` fresh draws. The
    factors are those of the process without its channel (the contexts are noise-free); a BOS-framed process's
    sequences start with BOS. Shape `(num_sequences, sequence_len)` (BOS included).

    Raises:
        NotFactoredError: when the factors are not independent (`vary one` needs a `FactoredProcess`).
    """
    structure = factor_structure(process)
    factored = structure.factored
    if not isinstance(factored, FactoredProcess):
        raise NotFactoredError(f"{factored.name}: vary-one contexts need independent factors (a FactoredProcess)")
    content_len = sequence_len - structure.leading_tokens
    parts = []
    for n, part in enumerate(factored.factors):
        count = num_sequences if n == factor else 1
        tokens = sample_sequences(part, jax.random.fold_in(key, n), count, content_len)
        parts.append(np.broadcast_to(np.asarray(tokens), (num_sequences, content_len)))
    joint = np.asarray(factored.joint_tokens(parts), dtype=np.int32)
    if structure.leading_tokens:
        assert isinstance(process, SpecialTokenProcess) and process.bos_token is not None
        joint = np.concatenate([np.full((num_sequences, 1), process.bos_token, np.int32), joint], axis=1)
    return joint


def _every_prefix(tokens: np.ndarray) -> BeliefDataset:
    """A dataset of every prefix of `tokens` (each sequence repeated once per length), for `model_outputs`."""
    count, length = tokens.shape
    empty = np.zeros((count * length, 0))
    return BeliefDataset(
        tokens=np.repeat(tokens, length, axis=0),
        lengths=np.tile(np.arange(1, length + 1), count),
        probabilities=np.ones(count * length),
        beliefs=empty,
        next_token_probabilities=empty,
    )


def vary_one_directions(
    model: PredictiveModel,
    process: GenerativeProcess,
    sequence_len: int,
    num_sequences: int,
    seed: int,
    first_position: int = 0,
    batch_size: int = 4096,
) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """Returns, for each activation and each factor, the principal directions its vary-one contexts span.

    Activations at input positions `first_position..sequence_len-1` of each factor's vary-one sample
    (`vary_one_tokens`) are centred at each position, so that only what the varying factor moves remains.

    Returns:
        Activation name to one `(directions, variances)` per factor, directions as rows, largest variance first.
    """
    key = jax.random.fold_in(jax.random.key(seed), _VARY_ONE_STREAM)
    structure = factor_structure(process)
    result: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for n in range(structure.num_factors):
        tokens = vary_one_tokens(process, n, num_sequences, sequence_len, jax.random.fold_in(key, n))
        prefixes = _every_prefix(tokens)
        outputs = model_outputs(model, prefixes, batch_size)
        kept = prefixes.positions >= first_position
        for name, values in outputs.activations.items():
            result.setdefault(name, []).append(principal_directions(values[kept], prefixes.positions[kept]))
    return result


@dataclass(frozen=True)
class FactorGeometry:
    """The factored-representation analysis of one model, with the untrained model's where given.

    Arguments:
        targets: probe target name (`factor_n`, `factors`, `joint`) to its value for every context.
        predictions: target name to the concatenated probe's prediction of it for every context.
        probes: target name to activation name (and `concatenated`) to its held-out probe.
        untrained_probes: the same on the untrained model, or None.
        dimensions: activation name to share to the number of principal components that hold it.
        reference_dimensions: `factored` (`sum(d_n - 1)`) and `joint` (the joint belief's count at 95%).
        overlaps: activation name to factor pair `(m, n)` to the vary-one overlap for `k = 1..K`, `K` the least of
            `max_k` and the number of directions each of the two factors moves (variance above 1e-9 of the
            largest); empty when the factors are not independent.
        untrained_overlaps: the same on the untrained model, or None.
        coefficient_angles: activation name to factor pair to the principal angles between the subspaces of the
            two factors' probe coefficients.
        coefficient_spread: activation name to factor to the participation ratio and effective rank of its probe
            coefficients.
        activation_dims: activation name to its width (for the random overlap `k / d`).
    """

    targets: dict[str, np.ndarray]
    predictions: dict[str, np.ndarray]
    probes: dict[str, dict[str, ProbeResult]]
    untrained_probes: dict[str, dict[str, ProbeResult]] | None
    dimensions: dict[str, dict[float, int]]
    reference_dimensions: dict[str, int]
    overlaps: dict[str, dict[tuple[int, int], np.ndarray]]
    untrained_overlaps: dict[str, dict[tuple[int, int], np.ndarray]] | None
    coefficient_angles: dict[str, dict[tuple[int, int], SubspaceComparison]]
    coefficient_spread: dict[str, dict[int, tuple[float, float]]]
    activation_dims: dict[str, int]

    def curve_point(self) -> dict[str, Any]:
        """Returns the figures followed over training: dimensions, factor probes' scores, the first overlaps."""
        return {
            "dimensions": {
                name: {f"{share:g}": count for share, count in by_share.items()}
                for name, by_share in self.dimensions.items()
            },
            "reference_dimensions": self.reference_dimensions,
            "probes": {
                target: {"r2": by_name[CONCATENATED].r2, "rmse": by_name[CONCATENATED].rmse}
                for target, by_name in self.probes.items()
            },
            "vary_one_overlap_k1": {
                name: {f"{m}-{n}": float(curve[0]) for (m, n), curve in pairs.items() if len(curve)}
                for name, pairs in self.overlaps.items()
            },
        }

    def summary(self) -> dict[str, Any]:
        """Returns the figures as JSON-ready values (the `factors` section of `analysis.json`)."""

        def probe_scores(probes: dict[str, dict[str, ProbeResult]], with_ratio: bool) -> dict[str, Any]:
            scores: dict[str, Any] = {}
            for target, by_name in probes.items():
                scores[target] = {}
                for name, probe in by_name.items():
                    scores[target][name] = {"r2": probe.r2, "rmse": probe.rmse}
                    if with_ratio and self.untrained_probes is not None:
                        untrained = self.untrained_probes[target][name].rmse
                        scores[target][name]["rmse_over_untrained"] = probe.rmse / untrained if untrained > 0 else None
            return scores

        def curves(overlaps: dict[str, dict[tuple[int, int], np.ndarray]]) -> dict[str, Any]:
            return {
                name: {f"{m}-{n}": [float(x) for x in curve] for (m, n), curve in pairs.items()}
                for name, pairs in overlaps.items()
            }

        summary: dict[str, Any] = {
            "probes": probe_scores(self.probes, with_ratio=True),
            "dimensions": {
                name: {f"{share:g}": count for share, count in d.items()} for name, d in self.dimensions.items()
            },
            "reference_dimensions": self.reference_dimensions,
            "vary_one_overlap": curves(self.overlaps),
            "random_overlap": {
                name: [k / width for k in range(1, 1 + max(len(curve) for curve in self.overlaps[name].values()))]
                for name, width in self.activation_dims.items()
                if self.overlaps.get(name)
            },
            "coefficient_angles": {
                name: {
                    f"{m}-{n}": {
                        "overlap": c.overlap,
                        "largest_cosine": c.largest_cosine,
                        "smallest_cosine": c.smallest_cosine,
                    }
                    for (m, n), c in pairs.items()
                }
                for name, pairs in self.coefficient_angles.items()
            },
            "coefficient_spread": {
                name: {
                    str(n): {"participation_ratio": ratio, "effective_rank": rank}
                    for n, (ratio, rank) in spread.items()
                }
                for name, spread in self.coefficient_spread.items()
            },
        }
        if self.untrained_probes is not None:
            summary["untrained_probes"] = probe_scores(self.untrained_probes, with_ratio=False)
        if self.untrained_overlaps is not None:
            summary["untrained_vary_one_overlap"] = curves(self.untrained_overlaps)
        return summary


# A principal direction whose variance is below this share of the largest is rounding (float32 activations), not
# a direction the varying factor moves.
_VARIANCE_FLOOR = 1e-9


def _numerical_rank(variances: np.ndarray) -> int:
    """How many principal directions carry variance above `_VARIANCE_FLOOR` of the largest."""
    return int(np.sum(variances > _VARIANCE_FLOOR * variances[0])) if len(variances) and variances[0] > 0 else 0


def _pairs(count: int) -> list[tuple[int, int]]:
    return list(itertools.combinations(range(count), 2))


def analyze_factors(
    model: PredictiveModel,
    process: GenerativeProcess,
    dataset: BeliefDataset,
    *,
    untrained: PredictiveModel | None = None,
    weights: str = "probability",
    last_position_only: bool = False,
    test_fraction: float = 0.2,
    split_seed: int = 0,
    ridge: float | None = None,
    vary_one_sequences: int = 256,
    max_k: int = 8,
    batch_size: int = 4096,
    outputs: ModelOutputs | None = None,
) -> FactorGeometry:
    """Returns the factored-representation analysis of `model` on the contexts of `dataset`.

    The probes use the split, weights and ridge of `analyze_contexts` (same arguments, same held-out contexts).
    The vary-one contexts have the dataset's longest length; the overlaps use input positions after BOS.
    `outputs`, when given, are `model`'s on `dataset` (`model_outputs`), computed already.

    Raises:
        NotFactoredError: when `process` is not made of factors.
    """
    structure = factor_structure(process)
    targets = factor_targets(process, dataset)
    probed, context_weights, train, test = probe_split(dataset, weights, last_position_only, test_fraction, split_seed)

    def probes_of(features: dict[str, np.ndarray]) -> dict[str, dict[str, ProbeResult]]:
        return {
            target: {
                name: fit_probe(values, goal, context_weights, train, test, ridge, split_seed)
                for name, values in features.items()
            }
            for target, goal in targets.items()
        }

    outputs = outputs if outputs is not None else model_outputs(model, dataset, batch_size)
    features = probe_features(outputs)
    probes = probes_of(features)
    untrained_probes = None
    if untrained is not None:
        untrained_probes = probes_of(probe_features(model_outputs(untrained, dataset, batch_size)))
    weights_probed = context_weights[probed]
    joint_dimension = dimensions(targets[JOINT][probed], weights_probed, (REFERENCE_SHARE,))[REFERENCE_SHARE]

    def overlaps_of(of_model: PredictiveModel) -> dict[str, dict[tuple[int, int], np.ndarray]]:
        if not isinstance(structure.factored, FactoredProcess):
            return {}
        directions = vary_one_directions(
            of_model,
            process,
            dataset.max_context_len,
            vary_one_sequences,
            split_seed,
            first_position=structure.leading_tokens,
            batch_size=batch_size,
        )
        result = {}
        for name, per_factor in directions.items():
            ranks = [_numerical_rank(variances) for _, variances in per_factor]
            result[name] = {
                (m, n): overlap_curve(per_factor[m][0], per_factor[n][0], min(max_k, ranks[m], ranks[n]))
                for m, n in _pairs(len(per_factor))
            }
        return result

    factor_names = [f"factor_{n}" for n in range(structure.num_factors)]
    angles, spread = {}, {}
    for name in features:
        coefficients = [probes[target][name].affine_map.weights.T for target in factor_names]
        angles[name] = {
            (m, n): compare_subspaces(coefficients[m], coefficients[n]) for m, n in _pairs(len(coefficients))
        }
        spread[name] = {n: (participation_ratio(c), effective_rank(c)) for n, c in enumerate(coefficients)}
    return FactorGeometry(
        targets=targets,
        predictions={target: probes[target][CONCATENATED].affine_map(features[CONCATENATED]) for target in targets},
        probes=probes,
        untrained_probes=untrained_probes,
        dimensions={name: dimensions(values[probed], weights_probed) for name, values in outputs.activations.items()},
        reference_dimensions={"factored": structure.factored_dimension, "joint": joint_dimension},
        overlaps=overlaps_of(model),
        untrained_overlaps=overlaps_of(untrained) if untrained is not None else None,
        coefficient_angles=angles,
        coefficient_spread=spread,
        activation_dims={name: values.shape[1] for name, values in outputs.activations.items()},
    )
