"""Controls that give a probe's score its meaning: what chance and short memory reach on the same contexts.

- Order-k Markov baselines: the best affine map from a one-hot of the last `k` tokens of each context (every
  distinct k-gram its own category; a context shorter than `k` is its own category too). Its prediction is the
  weighted mean belief of the contexts that end in the same `k` tokens: what a model that remembers only `k`
  tokens could represent at best.
- Shuffled targets: the probe fitted to beliefs permuted among the training contexts and scored on the true
  held-out beliefs, which a probe can only match by chance.
- The untrained model (the same architecture at its initialisation) is probed by `analyze_contexts` itself.

A control can be exact: a process of Markov order at most `k` (the golden mean, a coin) has beliefs that its
order-k baseline predicts without error, and a process of one state has one belief, which every probe predicts.
A probe's RMSE relative to an exact control is then undefined (`rmse_ratio`): the control is the result.
"""

import numpy as np

from simplexity.analysis.belief_dataset import BeliefDataset
from simplexity.analysis.regression import AffineMap, ProbeResult, fit_probe, weighted_r2, weighted_rmse

MARKOV_ORDERS = (1, 2, 3)
# A held-out RMSE at most this share of the held-out beliefs' own scale (`belief_scale`) counts as 0: the control
# predicts every held-out belief exactly, up to float64 rounding (about 1e-16 of that scale).
EXACT_RMSE = 1e-9


def belief_scale(targets: np.ndarray, weights: np.ndarray) -> float:
    """Returns the weighted root mean square of the targets' coordinates: the RMSE of predicting 0 everywhere.

    Beliefs are probability vectors, so for `s` states this lies between `1 / s` and 1.

    Arguments:
        targets: shape `(n, outputs)`.
        weights: shape `(n,)`.
    """
    return weighted_rmse(targets, np.zeros_like(targets), weights)


def is_exact(rmse: float, scale: float) -> bool:
    """Returns whether a held-out RMSE is 0 up to float64 rounding: at most `EXACT_RMSE` times the targets' `scale`."""
    return bool(rmse <= EXACT_RMSE * scale)


def rmse_ratio(rmse: float, control_rmse: float, scale: float) -> float:
    """Returns `rmse / control_rmse`, or NaN (undefined) when the control is exact (`is_exact`).

    Against an exact control every probe's error, rounding noise included, would be "infinitely" worse: the
    number would say nothing about the probe.
    """
    return float("nan") if is_exact(control_rmse, scale) else float(rmse / control_rmse)


def last_token_categories(dataset: BeliefDataset, order: int) -> np.ndarray:
    """Returns the category of each context's last `order` tokens (one integer per distinct k-gram), shape `(n,)`.

    Contexts shorter than `order` keep their whole word, so their category is their length and tokens.
    """
    if order < 1:
        raise ValueError(f"order={order!r} must be at least 1")
    keys = np.full((len(dataset), order + 1), -1, dtype=np.int64)
    keys[:, 0] = np.minimum(dataset.lengths, order)
    for back in range(1, order + 1):
        column = dataset.lengths - back
        present = column >= 0
        keys[present, order + 1 - back] = dataset.tokens[np.flatnonzero(present), column[present]]
    _, categories = np.unique(keys, axis=0, return_inverse=True)
    return categories.reshape(-1)


def _category_means(
    categories: np.ndarray, targets: np.ndarray, weights: np.ndarray, train: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Returns each category's weighted mean target over the training rows, and whether the category was seen."""
    num_categories = int(categories.max()) + 1
    train_weights = weights[train]
    totals = np.bincount(categories[train], weights=train_weights, minlength=num_categories)
    sums = np.stack(
        [
            np.bincount(categories[train], weights=train_weights * column, minlength=num_categories)
            for column in targets[train].T
        ],
        axis=1,
    )
    seen = totals > 0
    return sums / np.where(seen, totals, 1.0)[:, None], seen


def markov_predictions(dataset: BeliefDataset, order: int, weights: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Returns the order-`order` Markov baseline's predicted belief for every context, shape `(n, states)`.

    The best affine map from a one-hot of the last `order` tokens predicts each k-gram's weighted mean belief over
    the training contexts. A k-gram no training context ends in (a short context held out, say) backs off to the
    longest suffix that was seen, down to the training contexts' mean.
    """
    targets = dataset.beliefs
    train_weights = weights[train]
    predictions = np.broadcast_to(train_weights @ targets[train] / train_weights.sum(), targets.shape).copy()
    for k in range(1, order + 1):
        categories = last_token_categories(dataset, k)
        means, seen = _category_means(categories, targets, weights, train)
        known = seen[categories]
        predictions[known] = means[categories[known]]
    return predictions


def markov_baseline(
    dataset: BeliefDataset, order: int, weights: np.ndarray, train: np.ndarray, test: np.ndarray
) -> ProbeResult:
    """Returns the order-`order` Markov baseline (`markov_predictions`), fitted on `train` and scored on `test`.

    Its `affine_map` maps a one-hot over the contexts' own rows to the predictions (weights: one row per context),
    so the map reproduces the baseline on the analysed contexts.
    """
    targets = dataset.beliefs
    predictions = markov_predictions(dataset, order, weights, train)
    return ProbeResult(
        affine_map=AffineMap(weights=predictions, bias=np.zeros(targets.shape[1])),
        r2=weighted_r2(targets[test], predictions[test], weights[test]),
        rmse=weighted_rmse(targets[test], predictions[test], weights[test]),
        train_r2=weighted_r2(targets[train], predictions[train], weights[train]),
    )


def markov_baselines(
    dataset: BeliefDataset, weights: np.ndarray, train: np.ndarray, test: np.ndarray, orders=MARKOV_ORDERS
) -> dict[int, ProbeResult]:
    """Returns the order-k Markov baseline probe for each `k` in `orders`, fitted and scored like a model's."""
    return {order: markov_baseline(dataset, order, weights, train, test) for order in orders}


def best_markov_order(baselines: dict[int, ProbeResult], scale: float) -> int:
    """Returns the lowest order whose Markov baseline is exact (`is_exact`), else the one of least held-out RMSE.

    Among exact baselines the RMSE is rounding noise, so the shortest memory that suffices is the one named.
    """
    exact = [order for order in sorted(baselines) if is_exact(baselines[order].rmse, scale)]
    return exact[0] if exact else min(baselines, key=lambda order: baselines[order].rmse)


def shuffled_target_probe(
    features: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
    ridge: float | None = None,
) -> ProbeResult:
    """Returns the probe fitted to the training targets shuffled among themselves, scored on the true test targets.

    Arguments:
        features: shape `(n, features)`.
        targets: shape `(n, outputs)`.
        weights: shape `(n,)`.
        train: row indices to fit on; their targets are permuted (seeded by `seed`).
        test: row indices to score on, with their own targets.
        seed: seed of the permutation and of the cross-validation folds.
        ridge: the relative ridge penalty, or None to choose it by cross-validation on the shuffled targets.
    """
    shuffled = targets.copy()
    shuffled[train] = targets[np.random.default_rng(seed).permutation(train)]
    return fit_probe(features, shuffled, weights, train, test, ridge, seed)  # the test rows keep their true targets
