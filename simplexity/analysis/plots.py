"""PNG figures of an analysis: belief geometry (true beside predicted), loss per position, training curve.

Figures are drawn on matplotlib's Agg canvas without pyplot, so no global figure state or display is involved.
Each figure has a fixed size in pixels (no tight bounding box), which the tests check. Every `plot_*` function
draws its figure with the matching `*_figure` function and writes it as a PNG; the `*_figure` functions return
the `Figure`, for a notebook to show or restyle.
"""

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, FancyArrowPatch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from simplexity.analysis.pca import fit_pca
from simplexity.generative_processes.export import Machine

DPI = 100
PANEL_INCHES = 3.2
MAX_COLUMNS = 4
# Corners of the 2-simplex for hidden states 0, 1, 2 (an equilateral triangle).
SIMPLEX_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])
# Height of a figure's title row, added above the panels so that they keep their size.
TITLE_INCHES = 0.4


def simplex_projection(beliefs: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Returns a linear map from beliefs (shape `(n, states)`) to points of the plane (shape `(n, 2)`).

    For 3 states: barycentric coordinates on the 2-simplex. Otherwise: the first two principal axes of `beliefs`
    (padded with zeros when the beliefs vary along fewer than two).
    """
    if beliefs.shape[1] == 3:
        return lambda points: np.asarray(points, dtype=np.float64) @ SIMPLEX_CORNERS
    pca = fit_pca(beliefs, num_components=2)
    padding = 2 - pca.components.shape[0]
    return lambda points: np.pad(pca.transform(points), ((0, 0), (0, padding)))


def belief_coloring(beliefs: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Returns a map from beliefs (shape `(n, states)`) to RGB colours in [0, 1] (shape `(n, 3)`), fitted to `beliefs`.

    For 3 states the colour is the belief itself (hidden state `i` pure in channel `i`). Otherwise the first
    three principal coordinates of `beliefs`, each rescaled to [0, 1] over `beliefs` (other points are clipped).
    """
    if beliefs.shape[1] == 3:
        return lambda points: np.clip(np.asarray(points, dtype=np.float64), 0.0, 1.0)
    pca = fit_pca(beliefs, num_components=3)
    coordinates = pca.transform(beliefs)
    low, high = coordinates.min(axis=0), coordinates.max(axis=0)
    span = np.where(high > low, high - low, 1.0)

    def coloring(points: np.ndarray) -> np.ndarray:
        scaled = np.clip((pca.transform(points) - low) / span, 0.0, 1.0)
        return np.pad(scaled, ((0, 0), (0, 3 - scaled.shape[1])), constant_values=0.5)

    return coloring


def belief_colors(beliefs: np.ndarray) -> np.ndarray:
    """Returns an RGB colour in [0, 1] per belief, shape `(n, 3)`: `belief_coloring(beliefs)(beliefs)`."""
    return belief_coloring(beliefs)(beliefs)


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(figure).print_png(str(path))
    return path


def _titled_figure(width: float, height: float, title: str | None) -> Figure:
    """A constrained-layout figure of `width` x `height` inches of panels, plus a title row when titled."""
    figure = Figure(figsize=(width, height + (TITLE_INCHES if title else 0.0)), dpi=DPI, layout="constrained")
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def _draw_beliefs(axes: Axes, points: np.ndarray, colors: np.ndarray, title: str, outline: bool) -> None:
    if outline:
        triangle = np.vstack([SIMPLEX_CORNERS, SIMPLEX_CORNERS[:1]])
        axes.plot(triangle[:, 0], triangle[:, 1], color="0.7", linewidth=0.8)
    axes.scatter(points[:, 0], points[:, 1], c=colors, s=0.6, linewidths=0, rasterized=True)
    axes.set_title(title, fontsize=9)
    axes.set_aspect("equal", adjustable="datalim")
    axes.set_xticks([])
    axes.set_yticks([])


def _draw_state_key(axes: Axes, points: np.ndarray, colors: np.ndarray) -> None:
    """Marks where each pure hidden state lies, in its colour, and names it in a legend (the colour key)."""
    handles = []
    for state, (point, color) in enumerate(zip(points, colors, strict=True)):
        axes.scatter([point[0]], [point[1]], color=color, s=28, marker="o", edgecolors="black", linewidths=0.6)
        handles.append(
            Line2D([], [], marker="o", linestyle="", color=color, markeredgecolor="black", label=f"state {state}")
        )
    axes.legend(handles=handles, title="hidden state", fontsize="x-small", title_fontsize="x-small", loc="upper left")


def belief_geometry_figure(
    beliefs: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    scores: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Figure:
    """Returns the figure of the true beliefs beside those predicted from each activation (`plot_belief_geometry`)."""
    project = simplex_projection(beliefs)
    coloring = belief_coloring(beliefs)
    colors = coloring(beliefs)
    panels = 1 + len(predictions)
    columns = min(panels, MAX_COLUMNS)
    rows = math.ceil(panels / columns)
    figure = _titled_figure(PANEL_INCHES * columns, PANEL_INCHES * rows, title)
    grid = figure.subplots(rows, columns, squeeze=False)
    outline = beliefs.shape[1] == 3
    panel_title = "true beliefs (simplex)" if outline else "true beliefs (PCA)"
    _draw_beliefs(grid[0, 0], project(beliefs), colors, panel_title, outline)
    pure_states = np.eye(beliefs.shape[1])
    _draw_state_key(grid[0, 0], project(pure_states), coloring(pure_states))
    for index, (name, predicted) in enumerate(predictions.items(), start=1):
        score = "" if scores is None or name not in scores else f"  R²={scores[name]:.4f}"
        _draw_beliefs(grid.flat[index], project(predicted), colors, f"from {name}{score}", outline)
    for axes in grid.flat[panels:]:
        axes.set_axis_off()
    return figure


def plot_belief_geometry(
    beliefs: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    path: str | Path,
    scores: Mapping[str, float] | None = None,
    title: str | None = None,
) -> Path:
    """Draws the true beliefs and, in the same projection and colours, the beliefs predicted from each activation.

    Each point is one context, coloured by its true belief (`belief_colors`) in every panel, so a panel whose
    colours fall into the same places as the true beliefs' shows the same geometry. The first panel marks each
    pure hidden state (a belief certain of it) in its colour, with a legend naming the states: the colour key.

    Arguments:
        beliefs: true beliefs, shape `(n, states)`.
        predictions: panel title (an activation name) to predicted beliefs, each shape `(n, states)`.
        path: where to write the PNG.
        scores: held-out R^2 per name in `predictions`, shown in the titles.
        title: the figure's title (the analysis names the run, its process and model, and the step).

    Returns:
        The path written.
    """
    return _save(belief_geometry_figure(beliefs, predictions, scores, title), path)


def position_loss_figure(model_losses: np.ndarray, myopic_entropies: np.ndarray, title: str | None = None) -> Figure:
    """Returns the figure of the loss per context position (see `plot_position_losses`)."""
    positions = np.arange(len(model_losses))
    figure = _titled_figure(9.0, 3.6, title)
    left, right = figure.subplots(1, 2)
    left.plot(positions, model_losses, marker="o", label="model")
    left.plot(positions, myopic_entropies, marker="x", linestyle="--", color="black", label="myopic entropy")
    left.set_xlabel("input position (tokens seen - 1)")
    left.set_ylabel("loss (nats)")
    left.set_title("expected loss per position", fontsize=9)
    left.legend()
    right.bar(positions, model_losses - myopic_entropies, color="tab:orange")
    right.axhline(0.0, color="black", linewidth=0.8)
    right.set_xlabel("input position (tokens seen - 1)")
    right.set_ylabel("model loss - myopic entropy (nats)")
    right.set_title("excess over the optimum", fontsize=9)
    return figure


def plot_position_losses(
    model_losses: np.ndarray, myopic_entropies: np.ndarray, path: str | Path, title: str | None = None
) -> Path:
    """Draws the model's expected loss at each context position beside the myopic entropy, and their difference.

    Arguments:
        model_losses: expected cross-entropy (nats) at input positions `0..L-1`, shape `(L,)`.
        myopic_entropies: the lowest achievable loss at the same positions, shape `(L,)`.
        path: where to write the PNG.
        title: the figure's title.

    Returns:
        The path written.
    """
    return _save(position_loss_figure(model_losses, myopic_entropies, title), path)


def training_curve_figure(
    steps: Sequence[float],
    losses: Sequence[float],
    entropy_rate: float | None = None,
    best_loss: float | None = None,
    validation: tuple[Sequence[float], Sequence[float]] | None = None,
    title: str | None = None,
) -> Figure:
    """Returns the figure of the training (and validation) loss against the step (see `plot_training_curve`)."""
    figure = _titled_figure(6.0, 3.6, title)
    axes = figure.subplots()
    axes.plot(steps, losses, marker=".", label="training loss")
    if validation is not None and len(validation[0]) > 0:
        axes.plot(validation[0], validation[1], marker="s", markersize=3, color="tab:green", label="validation loss")
    if best_loss is not None:
        axes.axhline(best_loss, color="black", linestyle="--", label=f"best achievable ({best_loss:.4f})")
    if entropy_rate is not None:
        axes.axhline(entropy_rate, color="tab:red", linestyle=":", label=f"entropy rate ({entropy_rate:.4f})")
    axes.set_xlabel("step")
    axes.set_ylabel("loss (nats)")
    axes.legend()
    return figure


def plot_training_curve(
    steps: Sequence[float],
    losses: Sequence[float],
    path: str | Path,
    entropy_rate: float | None = None,
    best_loss: float | None = None,
    validation: tuple[Sequence[float], Sequence[float]] | None = None,
    title: str | None = None,
) -> Path:
    """Draws the logged training loss against the step, with the validation loss and the best achievable loss.

    Arguments:
        steps: logged steps.
        losses: mean training loss (nats) of each logged interval.
        path: where to write the PNG.
        entropy_rate: the process's entropy rate in nats, drawn as a line when given.
        best_loss: the lowest achievable mean loss over the trained context (the mean of the myopic entropies
            over its positions), drawn as a line when given.
        validation: the steps and losses of the validation records, drawn when given.
        title: the figure's title.

    Returns:
        The path written.
    """
    return _save(training_curve_figure(steps, losses, entropy_rate, best_loss, validation, title), path)


def _label_log_axis(axes: Axes) -> None:
    """Labels a log-scaled y axis at 1, 2 and 5 times each power of ten, in plain numbers, without minor labels."""
    axes.yaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axes.yaxis.set_minor_formatter(NullFormatter())


def analysis_curve_figure(curve: Sequence[Mapping[str, Any]], title: str | None = None) -> Figure:
    """Returns the figure of the probes and the excess loss against tokens seen (see `plot_analysis_curve`)."""
    tokens = np.maximum([point["tokens_seen"] for point in curve], 1)
    figure = _titled_figure(13.5, 3.6, title)
    r2_axes, rmse_axes, loss_axes = figure.subplots(1, 3)
    for name in curve[0]["regression"]:
        r2 = [point["regression"][name]["r2"] for point in curve]
        rmse = [point["regression"][name]["rmse"] for point in curve]
        r2_axes.plot(tokens, [np.nan if value is None else value for value in r2], marker=".", label=name)
        rmse_axes.plot(tokens, [np.nan if value is None else value for value in rmse], marker=".", label=name)
    # An exact baseline's RMSE is rounding noise (0 to float64 rounding): it is named, not drawn.
    exact = any(point.get("best_markov_exact") for point in curve)
    markov = [np.nan if exact or point["best_markov_rmse"] is None else point["best_markov_rmse"] for point in curve]
    label = "best Markov baseline (exact: RMSE 0, not drawn)" if exact else "best Markov baseline"
    rmse_axes.plot(tokens, markov, color="black", linestyle="--", label=label)
    loss_axes.plot(tokens, [point["excess_loss"] for point in curve], marker=".", color="tab:red", label="model")
    loss_axes.axhline(0.0, color="black", linewidth=0.8, label="optimal predictor")
    panels = (
        (r2_axes, "held-out R²", "probe fit to the beliefs"),
        (rmse_axes, "held-out RMSE", "probe error"),
        (loss_axes, "excess loss (nats)", "exact excess loss (KL from the optimum)"),
    )
    for axes, label, panel_title in panels:
        axes.set_xscale("log")
        axes.set_xlabel("tokens seen")
        axes.set_ylabel(label)
        axes.set_title(panel_title, fontsize=9)
    rmse_axes.set_yscale("log")
    _label_log_axis(rmse_axes)
    # One key for the probe panels, to the right of the RMSE panel, so that it covers no line.
    rmse_axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3)
    loss_axes.legend(fontsize="small")
    return figure


def plot_analysis_curve(curve: Sequence[Mapping[str, Any]], path: str | Path, title: str | None = None) -> Path:
    """Draws each probe's held-out R^2 and RMSE, and the exact excess loss, against tokens seen (`step=all`).

    Arguments:
        curve: one point per checkpoint, as `analyze_run` writes it under `curve` (`tokens_seen`, `excess_loss`,
            `best_markov_rmse`, `best_markov_exact`, and `regression[name]["r2" | "rmse"]`).
        path: where to write the PNG.
        title: the figure's title.

    Returns:
        The path written.
    """
    return _save(analysis_curve_figure(curve, title), path)


def factors_figure(
    targets: Mapping[str, np.ndarray],
    predictions: Mapping[str, np.ndarray],
    factors: Mapping[str, Any],
    curve: Sequence[Mapping[str, Any]] | None = None,
    title: str | None = None,
) -> Figure:
    """Returns the factored analysis' figure (see `plot_factors`)."""
    names = [name for name in targets if name.startswith("factor_")]
    overlaps = factors["vary_one_overlap"]
    panels = len(names) + len(overlaps) + (1 if curve else 0)
    columns = min(panels, MAX_COLUMNS)
    rows = math.ceil(panels / columns)
    figure = _titled_figure(PANEL_INCHES * columns, PANEL_INCHES * rows, title)
    grid = figure.subplots(rows, columns, squeeze=False).flat
    for axes, name in zip(grid, names, strict=False):
        beliefs = targets[name]
        project, coloring = simplex_projection(beliefs), belief_coloring(beliefs)
        score = factors["probes"][name]["concatenated"]["r2"]
        r2 = "" if score is None else f"  R²={score:.4f}"
        _draw_beliefs(
            axes, project(predictions[name]), coloring(beliefs), f"{name} from concatenated{r2}", beliefs.shape[1] == 3
        )
    used = len(names)
    for axes, (activation, pairs) in zip(grid[used:], overlaps.items(), strict=False):
        for pair, values in pairs.items():
            axes.plot(np.arange(1, len(values) + 1), values, marker=".", label=f"factors {pair}")
        random = factors["random_overlap"][activation]
        axes.plot(np.arange(1, len(random) + 1), random, color="black", linestyle="--", label="random (k/d)")
        axes.set_xlabel("k (top principal directions)")
        axes.set_ylabel("vary-one overlap")
        axes.set_title(f"{activation}: factor subspaces' overlap", fontsize=9)
        axes.legend(fontsize="x-small")
    used += len(overlaps)
    if curve:
        axes = grid[used]
        tokens = np.maximum([point["tokens_seen"] for point in curve], 1)
        for activation in curve[0]["factors"]["dimensions"]:
            counts = [point["factors"]["dimensions"][activation]["0.95"] for point in curve]
            axes.plot(tokens, counts, marker=".", label=activation)
        reference = curve[-1]["factors"]["reference_dimensions"]
        axes.axhline(reference["factored"], color="black", linestyle="--", label="factored: sum(d_n - 1)")
        axes.axhline(reference["joint"], color="black", linestyle=":", label="joint belief at 95%")
        axes.set_xscale("log")
        axes.set_xlabel("tokens seen")
        axes.set_ylabel("components for 95% of variance")
        axes.set_title("dimensionality over training", fontsize=9)
        axes.legend(fontsize="x-small")
        used += 1
    for axes in grid[used:]:
        axes.set_axis_off()
    return figure


def plot_factors(
    targets: Mapping[str, np.ndarray],
    predictions: Mapping[str, np.ndarray],
    factors: Mapping[str, Any],
    path: str | Path,
    curve: Sequence[Mapping[str, Any]] | None = None,
    title: str | None = None,
) -> Path:
    """Draws each factor's belief from the concatenated probe, the vary-one overlaps against k, and dims@95.

    Arguments:
        targets: `FactorGeometry.targets` (each factor's exact belief colours its points).
        predictions: the concatenated probe's prediction of each target (`FactorGeometry.predictions`).
        factors: the `factors` section of `analysis.json` (`FactorGeometry.summary()`).
        path: where to write the PNG.
        curve: the `step=all` curve, whose points carry `factors`; dims@95 against tokens seen is drawn from it,
            beside the factored and joint reference lines.
        title: the figure's title.

    Returns:
        The path written.
    """
    return _save(factors_figure(targets, predictions, factors, curve, title), path)


def interventions_figure(interventions: Mapping[str, Any], title: str | None = None) -> Figure:
    """Three panels, one bar group per site: the excess losses, the share of KL patching removes, the ablations.

    Arguments:
        interventions: the `interventions` section of `analysis.json` (`InterventionAnalysis.summary()`).
        title: the figure's title.
    """
    sites = list(interventions["sites"])
    scores = [interventions["sites"][site] for site in sites]
    figure = _titled_figure(3 * PANEL_INCHES, PANEL_INCHES + 0.6, title)
    loss_axes, patch_axes, ablation_axes = figure.subplots(1, 3)
    positions = np.arange(len(sites))

    def bars(axes: Axes, series: Sequence[tuple[str, list[float | None]]]) -> None:
        width = 0.8 / len(series)
        for index, (label, values) in enumerate(series):
            heights = [np.nan if value is None else value for value in values]
            axes.bar(positions + (index - (len(series) - 1) / 2) * width, heights, width, label=label)
        axes.set_xticks(positions, sites, rotation=60, ha="right", fontsize=7)
        axes.legend(fontsize=7)

    bars(loss_axes, [("probe-implied", [site["probe_implied_excess_loss"] for site in scores])])
    loss_axes.axhline(interventions["model_excess_loss"], color="black", linestyle="--", label="model")
    loss_axes.axhline(interventions["markov_implied_excess_loss"], color="grey", linestyle=":", label="best Markov")
    loss_axes.set_yscale("log")
    loss_axes.legend(fontsize=7)
    loss_axes.set_title("exact excess loss (nats)", fontsize=9)
    bars(
        patch_axes,
        [
            (label, [site["patching"][f"kl_removed_{key}"] for site in scores])
            for key, label in (("probe", "probe"), ("random_direction", "random"), ("markov_target", "Markov target"))
        ],
    )
    patch_axes.set_title("share of KL to P(. | v) removed", fontsize=9)
    bars(
        ablation_axes,
        [
            (label, [site["ablation"][f"excess_loss_{key}"] for site in scores])
            for key, label in (("probe_subspace", "probe subspace"), ("random_subspace", "random subspace"))
        ],
    )
    ablation_axes.axhline(interventions["model_excess_loss"], color="black", linestyle="--")
    ablation_axes.set_yscale("log")
    ablation_axes.set_title("excess loss after mean ablation", fontsize=9)
    return figure


def plot_interventions(interventions: Mapping[str, Any], path: str | Path, title: str | None = None) -> Path:
    """Draws `interventions_figure` into `path` (a PNG) and returns the path."""
    return _save(interventions_figure(interventions, title), path)


def machine_figure(machine: Machine, title: str | None = None, precision: int = 2) -> Figure:
    """Draws a machine: its states on a circle, an arrow per pair of states labelled `token:weight` for each token.

    Arguments:
        machine: the states and transitions (`simplexity.generative_processes.export`).
        title: the figure's title; the machine's name when None.
        precision: significant digits of the weights shown.
    """
    num_states = len(machine.labels)
    figure = _titled_figure(1.6 * PANEL_INCHES, 1.6 * PANEL_INCHES, title or machine.name)
    axes = figure.subplots()
    angles = np.pi / 2 - 2 * np.pi * np.arange(num_states) / max(num_states, 1)
    centres = np.stack([np.cos(angles), np.sin(angles)], axis=1) if num_states > 1 else np.zeros((1, 2))
    edges: dict[tuple[int, int], list[str]] = {}
    for source, token, target, weight in machine.transitions:
        edges.setdefault((source, target), []).append(f"{token}:{weight:.{precision}g}")
    for (source, target), labels in edges.items():
        text = "\n".join(labels)
        if source == target:  # a loop outside the circle
            direction = centres[source] / max(float(np.linalg.norm(centres[source])), 1e-9)
            if num_states == 1:
                direction = np.array([0.0, 1.0])
            loop = centres[source] + 0.32 * direction
            axes.add_patch(Circle(tuple(loop), 0.15, fill=False, color="0.35", linewidth=1.0))
            axes.annotate(text, tuple(centres[source] + 0.6 * direction), ha="center", va="center", fontsize=7)
            continue
        bend = 0.25 if (target, source) in edges else 0.0
        axes.add_patch(
            FancyArrowPatch(
                tuple(centres[source]),
                tuple(centres[target]),
                connectionstyle=f"arc3,rad={bend}",
                arrowstyle="-|>",
                mutation_scale=12,
                shrinkA=14,
                shrinkB=14,
                color="0.35",
                linewidth=1.0,
            )
        )
        middle = (centres[source] + centres[target]) / 2
        normal = np.array([centres[target][1] - centres[source][1], centres[source][0] - centres[target][0]])
        axes.annotate(text, tuple(middle + 0.5 * bend * normal), ha="center", va="center", fontsize=7)
    for state, label in enumerate(machine.labels):
        shown = label
        if machine.state_probabilities is not None:
            shown = f"{label}\n{machine.state_probabilities[state]:.{precision}g}"
        axes.annotate(
            shown,
            tuple(centres[state]),
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "circle", "facecolor": "white", "edgecolor": "black"},
        )
    axes.set_xlim(-1.7, 1.7)
    axes.set_ylim(-1.7, 1.7)
    axes.set_aspect("equal")
    axes.axis("off")
    return figure


def plot_machine(machine: Machine, path: str | Path, title: str | None = None) -> Path:
    """Draws `machine_figure` into `path` (a PNG) and returns the path."""
    return _save(machine_figure(machine, title), path)
