"""Controls that give a probe's score its meaning: what chance and short memory reach on the same contexts.

- Order-k Markov baselines: the best affine map from a one-hot of the last `k` tokens of each context (every
  distinct k-gram its own category; a context shorter than `k` is its own category too). Its prediction is the
  weighted mean belief of the contexts that end in the same `k` tokens: what a model that remembers only `k`
  tokens could represent at best.
- Shuffled targets: the probe fitted to beliefs permuted among the training contexts and scored on the true
  held-out beliefs, which a probe can only match by chance.
- The untrained model (the same architecture at its initialisation) is probed by `analyze_contexts` itself.
"""

import numpy as np

from simplexity.analysis.belief_dataset import BeliefDataset
from simplexity.analysis.regression import AffineMap, ProbeResult, fit_probe, weighted_r2, weighted_rmse

MARKOV_ORDERS = (1, 2, 3)


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


def markov_baseline(
    categories: np.ndarray, targets: np.ndarray, weights: np.ndarray, train: np.ndarray, test: np.ndarray
) -> ProbeResult:
    """Returns the best affine map from a one-hot of `categories`, fitted on `train` and scored on `test`.

    That map predicts each category's weighted mean target over the training rows; a category absent from them
    gets the training rows' weighted mean. The map's weights are those means (one row per category, bias 0), so
    `affine_map(one_hot)` is the prediction.
    """
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
    overall = train_weights @ targets[train] / train_weights.sum()
    means = np.where(totals[:, None] > 0, sums / np.where(totals > 0, totals, 1.0)[:, None], overall)
    predictions = means[categories]
    return ProbeResult(
        affine_map=AffineMap(weights=means, bias=np.zeros(targets.shape[1])),
        r2=weighted_r2(targets[test], predictions[test], weights[test]),
        rmse=weighted_rmse(targets[test], predictions[test], weights[test]),
        train_r2=weighted_r2(targets[train], predictions[train], train_weights),
    )


def markov_baselines(
    dataset: BeliefDataset, weights: np.ndarray, train: np.ndarray, test: np.ndarray, orders=MARKOV_ORDERS
) -> dict[int, ProbeResult]:
    """Returns the order-k Markov baseline probe for each `k` in `orders`, fitted and scored like a model's."""
    return {
        order: markov_baseline(last_token_categories(dataset, order), dataset.beliefs, weights, train, test)
        for order in orders
    }


def shuffled_target_probe(
    features: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
) -> ProbeResult:
    """Returns the probe fitted to the training targets shuffled among themselves, scored on the true test targets.

    Arguments:
        features: shape `(n, features)`.
        targets: shape `(n, outputs)`.
        weights: shape `(n,)`.
        train: row indices to fit on; their targets are permuted (seeded by `seed`).
        test: row indices to score on, with their own targets.
        seed: seed of the permutation.
    """
    shuffled = targets.copy()
    shuffled[train] = targets[np.random.default_rng(seed).permutation(train)]
    return fit_probe(features, shuffled, weights, train, test)  # the test rows keep their true targets
