import itertools

import matplotlib.image
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from simplexity.analysis import (
    belief_colors,
    plot_belief_geometry,
    plot_position_losses,
    plot_training_curve,
    simplex_projection,
)
from simplexity.analysis.plots import (
    DPI,
    PANEL_INCHES,
    SIMPLEX_CORNERS,
    TITLE_INCHES,
    analysis_curve_figure,
    belief_geometry_figure,
    training_curve_figure,
)


def read_png(path) -> np.ndarray:
    assert path.is_file() and path.stat().st_size > 0
    image = matplotlib.image.imread(path)
    assert image.std() > 0  # something was drawn
    return image


@pytest.fixture
def beliefs() -> np.ndarray:
    return np.random.default_rng(0).dirichlet(np.ones(3), size=200)


def test_simplex_projection_puts_pure_states_on_the_corners():
    np.testing.assert_allclose(simplex_projection(np.eye(3))(np.eye(3)), SIMPLEX_CORNERS)


def test_colors_of_three_states_are_the_beliefs(beliefs):
    np.testing.assert_allclose(belief_colors(beliefs), beliefs)


def test_more_states_are_projected_and_coloured_by_pca():
    beliefs = np.random.default_rng(1).dirichlet(np.ones(5), size=50)
    assert simplex_projection(beliefs)(beliefs).shape == (50, 2)
    colors = belief_colors(beliefs)
    assert colors.shape == (50, 3)
    assert colors.min() >= 0.0 and colors.max() <= 1.0


def test_belief_geometry_figure_has_a_panel_per_prediction(tmp_path, beliefs):
    predictions = {"embedding": beliefs[::-1], "block_0": beliefs, "concatenated": beliefs}
    path = plot_belief_geometry(beliefs, predictions, tmp_path / "geometry.png", scores={"block_0": 1.0})
    height, width, _ = read_png(path).shape
    assert (height, width) == (round(PANEL_INCHES * DPI), round(4 * PANEL_INCHES * DPI))


def test_belief_geometry_figure_wraps_into_rows(tmp_path, beliefs):
    predictions = {f"block_{index}": beliefs for index in range(5)}
    height, width, _ = read_png(plot_belief_geometry(beliefs, predictions, tmp_path / "geometry.png")).shape
    assert (height, width) == (round(2 * PANEL_INCHES * DPI), round(4 * PANEL_INCHES * DPI))


def test_belief_geometry_of_two_states(tmp_path):
    beliefs = np.random.default_rng(2).dirichlet(np.ones(2), size=30)
    read_png(plot_belief_geometry(beliefs, {"layer_0": beliefs}, tmp_path / "geometry.png"))


def test_position_loss_figure(tmp_path):
    path = plot_position_losses(np.array([1.0, 0.9, 0.85]), np.array([0.99, 0.88, 0.84]), tmp_path / "loss.png")
    assert read_png(path).shape[:2] == (360, 900)


def test_training_curve_figure(tmp_path):
    path = plot_training_curve([10, 20, 30], [1.1, 0.9, 0.85], tmp_path / "curve.png", entropy_rate=0.8, best_loss=0.82)
    assert read_png(path).shape[:2] == (360, 600)


def legend_labels(axes) -> list[str]:
    legend = axes.get_legend()
    assert legend is not None
    return [text.get_text() for text in legend.get_texts()]


@pytest.mark.parametrize("num_states", [3, 5])
def test_belief_figure_has_a_colour_key_naming_each_hidden_state_and_a_title(num_states):
    beliefs = np.random.default_rng(3).dirichlet(np.ones(num_states), size=100)
    figure = belief_geometry_figure(beliefs, {"block_0": beliefs}, title="run_a · mess3 · gru_rnn · step 40")
    assert figure.get_suptitle() == "run_a · mess3 · gru_rnn · step 40"
    true_panel = figure.axes[0]
    assert legend_labels(true_panel) == [f"state {state}" for state in range(num_states)]
    legend = true_panel.get_legend()
    assert legend is not None and legend.get_title().get_text() == "hidden state"


def test_a_title_adds_a_row_above_the_panels(tmp_path, beliefs):
    path = plot_belief_geometry(beliefs, {"block_0": beliefs}, tmp_path / "geometry.png", title="run · step 1")
    height, width, _ = read_png(path).shape
    assert (height, width) == (round((PANEL_INCHES + TITLE_INCHES) * DPI), round(2 * PANEL_INCHES * DPI))


def curve_point(tokens: float, scale: float) -> dict:
    """Figures shaped like the paper preset's: a flat embedding probe above blocks that improve with training."""
    regression = {"embedding": {"r2": 0.82, "rmse": 0.2}}
    for index, name in enumerate(["block_0", "block_1", "concatenated"]):
        regression[name] = {"r2": 1 - 0.04 * scale / (index + 1), "rmse": 0.08 * scale / (index + 1) ** 0.5}
    return {"tokens_seen": tokens, "excess_loss": 0.0135 * scale, "best_markov_rmse": 0.043, "regression": regression}


@pytest.fixture(scope="module")
def analysis_curve() -> Figure:
    curve = [
        curve_point(tokens, scale)
        for tokens, scale in [(6.4e4, 1.0), (6.4e5, 0.5), (3.2e6, 0.37), (3.2e7, 0.29), (9.6e7, 0.25)]
    ]
    figure = analysis_curve_figure(curve, title="paper · mess3 · transformer")
    FigureCanvasAgg(figure).draw()  # lays the figure out, so that extents are final
    return figure


def test_analysis_curve_tick_labels_stand_apart(analysis_curve):
    """Neighbouring tick labels of every axis are at least one label's height (or width) apart."""
    renderer = analysis_curve.canvas.get_renderer()  # type: ignore[attr-defined]
    for axes in analysis_curve.axes:
        for axis, low, high in ((axes.xaxis, "x0", "x1"), (axes.yaxis, "y0", "y1")):
            labels = [label for label in axis.get_ticklabels(which="both") if label.get_visible() and label.get_text()]
            boxes = sorted((label.get_window_extent(renderer) for label in labels), key=lambda box: getattr(box, low))
            span = (getattr(axes.bbox, low) - 5, getattr(axes.bbox, high) + 5)
            boxes = [box for box in boxes if span[0] <= getattr(box, low) and getattr(box, high) <= span[1]]
            assert len(boxes) >= 2
            for first, second in itertools.pairwise(boxes):
                size = first.height if axis is axes.yaxis else min(first.width, second.width) / 4
                assert getattr(second, low) - getattr(first, high) >= size, [label.get_text() for label in labels]


def test_analysis_curve_panels_have_titles_and_keys_that_cover_no_line(analysis_curve):
    r2_axes, rmse_axes, loss_axes = analysis_curve.axes
    assert analysis_curve.get_suptitle() == "paper · mess3 · transformer"
    assert all(axes.get_title() for axes in analysis_curve.axes)
    assert legend_labels(rmse_axes) == ["embedding", "block_0", "block_1", "concatenated", "best Markov baseline"]
    assert legend_labels(loss_axes) == ["model", "optimal predictor"]
    renderer = analysis_curve.canvas.get_renderer()  # type: ignore[attr-defined]
    key = rmse_axes.get_legend().get_window_extent(renderer)
    for axes in (r2_axes, rmse_axes):
        for line in axes.get_lines():
            points = axes.transData.transform(line.get_xydata())
            points = points[np.isfinite(points).all(axis=1)]
            inside = (
                (key.x0 <= points[:, 0])
                & (points[:, 0] <= key.x1)
                & (key.y0 <= points[:, 1])
                & (points[:, 1] <= key.y1)
            )
            assert not inside.any(), line.get_label()


def test_training_curve_draws_the_validation_loss():
    figure = training_curve_figure([10, 20, 30], [1.1, 0.9, 0.85], 0.8, 0.82, validation=([10, 30], [1.0, 0.86]))
    axes = figure.axes[0]
    assert legend_labels(axes) == [
        "training loss",
        "validation loss",
        "best achievable (0.8200)",
        "entropy rate (0.8000)",
    ]
    validation = next(line for line in axes.get_lines() if line.get_label() == "validation loss")
    np.testing.assert_array_equal(validation.get_xydata(), [[10, 1.0], [30, 0.86]])
