import matplotlib.image
import numpy as np
import pytest

from simplexity.analysis import (
    belief_colors,
    plot_belief_geometry,
    plot_position_losses,
    plot_training_curve,
    simplex_projection,
)
from simplexity.analysis.plots import DPI, PANEL_INCHES, SIMPLEX_CORNERS


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
