"""Does the model use the belief it encodes? Interventions at an activation site, scored against exact targets.

A linear probe that reads the belief out of an activation shows that the information is there, not that the model
predicts with it. Three analyses per site, each scored with the process's exact next-token distributions:

1. *Probe-implied excess loss*: the probe's belief estimate, projected onto the valid beliefs (the simplex for a
   hidden Markov model; the hyperplane `belief @ r = 1` for a generalized one), turned into a next-token
   distribution by the process; its expected KL divergence from the exact one, per position, beside the model's
   own. Near equal: the linear readout carries what the model predicts with.
2. *Belief patching*: for pairs `(u, v)` of full-length contexts, the activation of `u` at its last position is
   moved by the minimum-norm step in the probe's row space that makes the probe read `b(v)` (the orthogonal
   remainder is kept); the rest of the model runs on; `KL(P(. | v) || model)` after the patch against before.
   Controls: a step of the same norm in a random direction, and a patch towards the best Markov baseline's
   estimate of `b(v)` instead of `b(v)`.
3. *Subspace ablation*: at every position the activation's component in the probe's row space is replaced by its
   probability-weighted mean at that position; the exact excess loss after it, against the same ablation of a
   random subspace of equal dimension.

A probe here is the belief-geometry probe (`regression.fit_probe`, held-out split and ridge as there); the probe-
implied and ablation losses are measured on the held-out contexts, and the patched pairs are drawn from them.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from simplexity.analysis.belief_dataset import BeliefDataset
from simplexity.analysis.belief_geometry import model_outputs, probe_split
from simplexity.analysis.controls import belief_scale, best_markov_order, markov_baselines
from simplexity.analysis.regression import ProbeResult, fit_probe
from simplexity.generative_processes.presentation import Presentation
from simplexity.predictive_models import AbstractSiteModel, PredictiveModel, intervene
from simplexity.predictive_models.sites import Edit

# A predicted next-token probability is floored here before the KL divergence is taken, so that a token the
# estimate calls impossible costs a finite (large) amount instead of an infinite one.
PROBABILITY_FLOOR = 1e-12
# Singular values of a probe's weights below this share of the largest are rounding, amplified by the fit in
# directions where float32 activations hardly vary: they span no part of the row space the probe reads.
RANK_TOLERANCE = 1e-6
# The streams of the pairs and of the random controls, under the split seed.
_PAIR_STREAM, _DIRECTION_STREAM, _SUBSPACE_STREAM = 0, 1, 2


def project_to_beliefs(estimates: np.ndarray, presentation: Presentation) -> np.ndarray:
    """Returns the valid beliefs nearest (Euclidean) to `estimates`, shape `(n, states)`.

    For a hidden Markov model the valid beliefs are the probability simplex (the projection of Duchi et al. 2008:
    subtract the threshold that makes the positive parts sum to one); for a generalized one, the hyperplane of
    normalised states `belief @ r = 1`, on which a state may still give a token a negative mass.
    """
    estimates = np.asarray(estimates, dtype=np.float64)
    if presentation.is_hidden_markov_model:
        ordered = -np.sort(-estimates, axis=1)
        cumulative = np.cumsum(ordered, axis=1) - 1.0
        ranks = np.arange(1, estimates.shape[1] + 1)
        support = np.sum(ordered - cumulative / ranks > 0, axis=1)
        threshold = cumulative[np.arange(len(estimates)), support - 1] / support
        return np.maximum(estimates - threshold[:, None], 0.0)
    normalizer = presentation.normalizing_eigenvector
    excess = estimates @ normalizer - 1.0
    return estimates - np.outer(excess, normalizer) / (normalizer @ normalizer)


def implied_next_token_distributions(beliefs: np.ndarray, presentation: Presentation) -> np.ndarray:
    """Returns `P(x | belief)` for valid beliefs, negative masses (a generalized model's) clipped to 0, `(n, vocab)`."""
    masses = np.einsum("ni,xij,j->nx", beliefs, presentation.transition_matrices, presentation.normalizing_eigenvector)
    masses = np.maximum(masses, 0.0)
    totals = masses.sum(axis=1, keepdims=True)
    return masses / np.where(totals > 0, totals, 1.0)


def kl_divergence(exact: np.ndarray, log_predicted: np.ndarray) -> np.ndarray:
    """Returns `KL(exact || predicted)` of each row, in nats, from the predicted distributions' logarithms."""
    log_exact = np.log(np.where(exact > 0, exact, 1.0))
    return np.sum(np.where(exact > 0, exact * (log_exact - log_predicted), 0.0), axis=1)


def log_of(distributions: np.ndarray) -> np.ndarray:
    """Returns the logarithm of distributions floored at `PROBABILITY_FLOOR`."""
    return np.log(np.maximum(distributions, PROBABILITY_FLOOR))


def per_position(values: np.ndarray, weights: np.ndarray, positions: np.ndarray, length: int) -> np.ndarray:
    """Returns the weighted mean of `values` at each position `0..length-1` (NaN where no weight), `(length,)`."""
    totals = np.bincount(positions, weights=weights, minlength=length)
    sums = np.bincount(positions, weights=weights * values, minlength=length)
    return np.where(totals > 0, sums / np.where(totals > 0, totals, 1.0), np.nan)


def row_space(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns the directions a belief probe reads: `weights ~ basis @ diag(singular) @ outputs`.

    A belief's coordinates sum to one (weighted by `r` for a generalized model), so a probe of `s` states reads at
    most `s - 1` directions; the rest of its singular values are rounding, as are those below `RANK_TOLERANCE` of
    the largest.

    Arguments:
        weights: the probe's weights, `(features, states)`.

    Returns:
        An orthonormal basis of the directions read (columns, `(features, rank)`), their singular values `(rank,)`,
        and the output directions they map to (rows, `(rank, states)`).
    """
    basis, singular, outputs = np.linalg.svd(weights, full_matrices=False)
    largest = singular.max() if singular.size else 0.0
    rank = min(int(np.sum(singular > RANK_TOLERANCE * largest)) if largest > 0 else 0, weights.shape[1] - 1)
    return basis[:, :rank], singular[:rank], outputs[:rank]


def position_means(features: np.ndarray, weights: np.ndarray, positions: np.ndarray, length: int) -> np.ndarray:
    """Returns the weighted mean of the contexts' features at each position, `(length, features)`."""
    totals = np.bincount(positions, weights=weights, minlength=length)
    sums = np.stack([np.bincount(positions, weights=weights * column, minlength=length) for column in features.T], 1)
    return sums / np.where(totals > 0, totals, 1.0)[:, None]


class _PatchLastPosition(eqx.Module):
    """Adds `steps[i]` to sequence `i`'s activation at `positions[i]`."""

    steps: Float[Array, "batch features"]
    positions: Int[Array, " batch"]

    def __call__(self, activation: Float[Array, "batch seq features"]) -> Array:
        rows = jnp.arange(activation.shape[0])
        return activation.at[rows, self.positions].add(self.steps.astype(activation.dtype))


class _MeanAblation(eqx.Module):
    """Replaces the activation's component in the span of `basis` by that of `means` at every position."""

    basis: Float[Array, "features rank"]
    means: Float[Array, "seq features"]

    def __call__(self, activation: Float[Array, "batch seq features"]) -> Array:
        basis, means = self.basis.astype(activation.dtype), self.means.astype(activation.dtype)
        return activation - ((activation - means) @ basis) @ basis.T


@eqx.filter_jit
def _last_log_probabilities(model: PredictiveModel, tokens: Int[Array, "batch seq"], positions: Array) -> Array:
    rows = jnp.arange(tokens.shape[0])
    return jax.nn.log_softmax(model(tokens)[rows, positions].astype(jnp.float32), axis=-1)


def edited_log_probabilities(
    model: AbstractSiteModel,
    site: str,
    edit_of: Callable[[np.ndarray], Edit],
    tokens: np.ndarray,
    positions: np.ndarray,
    batch_size: int,
) -> np.ndarray:
    """Returns the edited model's next-token log-probabilities at `positions`, float64, `(n, vocab)`.

    Arguments:
        model: the model intervened on.
        site: the site edited.
        edit_of: the edit for the given rows (an Equinox module, so that its arrays are traced and every batch
            runs one compiled program); the last batch is padded by repeating its first row.
        tokens: `(n, seq)`.
        positions: the position read in each row, `(n,)`.
        batch_size: rows per forward pass.
    """
    count = len(tokens)
    batch_size = min(batch_size, count)
    outputs = []
    for start in range(0, count, batch_size):
        rows = np.arange(start, start + batch_size)
        rows = np.where(rows < count, rows, start)
        edited = intervene(model, {site: edit_of(rows)})
        outputs.append(_last_log_probabilities(edited, jnp.asarray(tokens[rows]), jnp.asarray(positions[rows])))
    return np.concatenate(jax.device_get(outputs)).astype(np.float64)[:count]


@dataclass(frozen=True)
class SiteInterventions:
    """The three analyses at one site.

    Arguments:
        probe: the site's belief probe.
        probe_implied_excess_loss: the probe-implied excess loss at each position (held-out contexts), nats.
        untrained_probe_implied_excess_loss: the same for the untrained model's probe at the site; None without it.
        patch_kl: mean over the pairs of `KL(P(. | v) || model)` before any patch, after the probe's patch, after the
            random-direction patch and after the patch towards the Markov baseline's estimate (keys `before`,
            `probe`, `random_direction`, `markov_target`).
        ablation_rank: the dimension of the probe's row space (and of the random subspace).
        ablation_excess_loss: the exact excess loss at each position after ablating the probe's row space, and
            after ablating a random subspace (keys `probe_subspace`, `random_subspace`), held-out contexts.
    """

    probe: ProbeResult
    probe_implied_excess_loss: np.ndarray
    untrained_probe_implied_excess_loss: np.ndarray | None
    patch_kl: dict[str, float]
    ablation_rank: int
    ablation_excess_loss: dict[str, np.ndarray]


@dataclass(frozen=True)
class InterventionAnalysis:
    """The intervention analyses of one model at each site, with the model's own exact excess loss.

    Arguments:
        sites: site name to its analyses.
        model_excess_loss: the model's exact excess loss at each position over the held-out contexts, nats.
        markov_implied_excess_loss: the excess loss implied by the best Markov baseline's belief estimates.
        best_markov_order: the order of that baseline.
        num_pairs: how many `(u, v)` pairs were patched, each of `pair_length` tokens.
        pair_length: the pairs' context length.
    """

    sites: dict[str, SiteInterventions]
    model_excess_loss: np.ndarray
    markov_implied_excess_loss: np.ndarray
    best_markov_order: int
    num_pairs: int
    pair_length: int

    @property
    def best_site(self) -> str:
        """The site whose probe has the lowest held-out RMSE."""
        return min(self.sites, key=lambda site: self.sites[site].probe.rmse)

    def summary(self) -> dict[str, Any]:
        """Returns the numbers as plain JSON-ready values (NaN becomes None): means over positions, and per position."""

        def numbers(values: np.ndarray) -> list[float | None]:
            return [float(value) if np.isfinite(value) else None for value in values]

        def mean(values: np.ndarray) -> float | None:
            finite = values[np.isfinite(values)]
            return float(finite.mean()) if finite.size else None

        sites = {}
        for name, result in self.sites.items():
            before = result.patch_kl["before"]
            sites[name] = {
                "probe_r2": float(result.probe.r2) if np.isfinite(result.probe.r2) else None,
                "probe_rmse": float(result.probe.rmse),
                "probe_implied_excess_loss": mean(result.probe_implied_excess_loss),
                "probe_implied_excess_loss_per_position": numbers(result.probe_implied_excess_loss),
                "untrained_probe_implied_excess_loss": None
                if result.untrained_probe_implied_excess_loss is None
                else mean(result.untrained_probe_implied_excess_loss),
                "patching": {
                    "kl_before": before,
                    **{f"kl_after_{key}": value for key, value in result.patch_kl.items() if key != "before"},
                    **{
                        f"kl_removed_{key}": (1.0 - value / before) if before > 0 else None
                        for key, value in result.patch_kl.items()
                        if key != "before"
                    },
                },
                "ablation": {
                    "rank": result.ablation_rank,
                    **{f"excess_loss_{key}": mean(values) for key, values in result.ablation_excess_loss.items()},
                    **{
                        f"excess_loss_{key}_per_position": numbers(values)
                        for key, values in result.ablation_excess_loss.items()
                    },
                },
            }
        return {
            "num_pairs": self.num_pairs,
            "pair_length": self.pair_length,
            "best_site": self.best_site,
            "model_excess_loss": mean(self.model_excess_loss),
            "model_excess_loss_per_position": numbers(self.model_excess_loss),
            "best_markov_order": self.best_markov_order,
            "markov_implied_excess_loss": mean(self.markov_implied_excess_loss),
            "sites": sites,
        }


def feature_sites(model: AbstractSiteModel, sites: Sequence[str] | None) -> tuple[str, ...]:
    """Returns `sites` (the model's default sites when None) without attention patterns, which hold no features."""
    names = model.default_sites if sites is None else tuple(sites)
    return tuple(name for name in names if not name.endswith("attn_pattern"))


def analyze_interventions(
    model: AbstractSiteModel,
    dataset: BeliefDataset,
    presentation: Presentation,
    *,
    sites: Sequence[str] | None = None,
    untrained: AbstractSiteModel | None = None,
    num_pairs: int = 512,
    weights: str = "probability",
    test_fraction: float = 0.2,
    split_seed: int = 0,
    ridge: float | None = None,
    batch_size: int = 4096,
) -> InterventionAnalysis:
    """Runs the three intervention analyses at each site (see the module's description).

    Arguments:
        model: the trained model, with named activation sites.
        dataset: the contexts, with exact beliefs and next-token distributions (`belief_dataset`).
        presentation: the process's presentation, which turns beliefs into next-token distributions.
        sites: the sites analysed (each `(batch, seq, features)`); None for the model's default sites.
        untrained: the same architecture at its initialisation, whose probes' implied excess loss is a control.
        num_pairs: how many `(u, v)` pairs of full-length held-out contexts to patch.
        weights: how contexts count in the probes and the means: `probability` or `uniform`.
        test_fraction: the share of contexts held out from fitting the probes.
        split_seed: the seed of the split, the pairs and the random controls.
        ridge: the probes' relative ridge penalty, or None to choose it by cross-validation.
        batch_size: contexts per forward pass.
    """
    names = feature_sites(model, sites)
    outputs = model_outputs(model, dataset, batch_size, names)
    untrained_outputs = None if untrained is None else model_outputs(untrained, dataset, batch_size, names)
    _, context_weights, train, test = probe_split(dataset, weights, False, test_fraction, split_seed)
    length = dataset.max_context_len
    exact = dataset.next_token_probabilities
    test_weights, test_positions = context_weights[test], dataset.positions[test]

    def excess(log_predicted: np.ndarray) -> np.ndarray:  # rows of `test`
        return per_position(kl_divergence(exact[test], log_predicted), test_weights, test_positions, length)

    def implied(estimates: np.ndarray) -> np.ndarray:
        return excess(
            log_of(implied_next_token_distributions(project_to_beliefs(estimates, presentation), presentation))
        )

    markov = markov_baselines(dataset, context_weights, train, test)
    order = best_markov_order(markov, belief_scale(dataset.beliefs[test], test_weights))
    markov_estimates = markov[order].affine_map.weights  # the baseline's estimate for every context

    rng = np.random.default_rng([split_seed, _PAIR_STREAM])
    full = test[dataset.lengths[test] == length]
    if len(full) < 2:
        full = np.flatnonzero(dataset.lengths == length)
    chances = dataset.probabilities[full] / dataset.probabilities[full].sum()
    pairs = rng.choice(full, size=(num_pairs, 2), p=chances)
    sources, targets = pairs[:, 0], pairs[:, 1]
    last = np.full(num_pairs, length - 1)
    results = {}
    for index, name in enumerate(names):
        features = outputs.activations[name]
        probe = fit_probe(features, dataset.beliefs, context_weights, train, test, ridge, split_seed)
        untrained_implied = None
        if untrained_outputs is not None:
            untrained_features = untrained_outputs.activations[name]
            untrained_probe = fit_probe(
                untrained_features, dataset.beliefs, context_weights, train, test, ridge, split_seed
            )
            untrained_implied = implied(untrained_probe.affine_map(untrained_features[test]))
        basis, singular, output_directions = row_space(probe.affine_map.weights)
        # The minimum-norm step `delta` in the row space with `delta @ weights = target - reading`.
        inverse = (output_directions.T / singular) @ basis.T  # (states, features)
        readings = probe.affine_map(features[sources])
        step_to = {
            "probe": (dataset.beliefs[targets] - readings) @ inverse,
            "markov_target": (markov_estimates[targets] - readings) @ inverse,
        }
        directions = np.random.default_rng([split_seed, _DIRECTION_STREAM, index]).normal(size=features[sources].shape)
        directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        step_to["random_direction"] = directions * np.linalg.norm(step_to["probe"], axis=1, keepdims=True)
        patch_kl = {"before": float(kl_divergence(exact[targets], outputs.log_probabilities[sources]).mean())}
        for label in ("probe", "random_direction", "markov_target"):
            steps = jnp.asarray(step_to[label], jnp.float32)
            log_probabilities = edited_log_probabilities(
                model,
                name,
                lambda rows, steps=steps: _PatchLastPosition(steps[rows], jnp.asarray(last[rows])),
                dataset.tokens[sources],
                last,
                batch_size,
            )
            patch_kl[label] = float(kl_divergence(exact[targets], log_probabilities).mean())

        rank = basis.shape[1]
        random_basis = np.linalg.qr(
            np.random.default_rng([split_seed, _SUBSPACE_STREAM, index]).normal(size=(features.shape[1], rank))
        )[0]
        means = position_means(features, context_weights, dataset.positions, length)
        ablation = {}
        for label, subspace in (("probe_subspace", basis), ("random_subspace", random_basis)):
            edit = _MeanAblation(jnp.asarray(subspace, jnp.float32), jnp.asarray(means, jnp.float32))
            log_probabilities = edited_log_probabilities(
                model, name, lambda rows, edit=edit: edit, dataset.tokens[test], test_positions, batch_size
            )
            ablation[label] = excess(log_probabilities)
        results[name] = SiteInterventions(
            probe=probe,
            probe_implied_excess_loss=implied(probe.affine_map(features[test])),
            untrained_probe_implied_excess_loss=untrained_implied,
            patch_kl=patch_kl,
            ablation_rank=rank,
            ablation_excess_loss=ablation,
        )
    return InterventionAnalysis(
        sites=results,
        model_excess_loss=excess(outputs.log_probabilities[test]),
        markov_implied_excess_loss=implied(markov_estimates[test]),
        best_markov_order=order,
        num_pairs=num_pairs,
        pair_length=length,
    )
