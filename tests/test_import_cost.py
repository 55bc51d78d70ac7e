"""Importing the library loads what it uses: MLflow when an MLflow logger is made, orbax when a checkpointer is,
matplotlib when a figure is drawn, penzai when a penzai model is built."""

import json
import subprocess
import sys

import pytest

from tests.command_line import ROOT

pytestmark = pytest.mark.slow


LAZY = ("matplotlib", "mlflow", "orbax", "penzai")


def loaded_after(code: str) -> list[str]:
    """Runs `code` in a fresh interpreter and returns which of the packages loaded on use (`LAZY`) it loaded."""
    packages = f"{{name.split('.')[0] for name in sys.modules}} & {set(LAZY)!r}"
    report = f"import json, sys; print(json.dumps(sorted({packages})))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_library_and_the_trainer_load_none_of_them():
    assert loaded_after("import simplexity\nfrom simplexity.training import train") == []


def test_the_commands_load_none_of_them_before_a_run_needs_them():
    assert loaded_after("import simplexity.cli\nimport simplexity.commands") == []


def test_mlflow_loads_with_the_mlflow_logger_and_orbax_with_a_checkpointer(tmp_path):
    code = (
        "from simplexity.logging import MlflowLogger\n"
        "from simplexity.persistence import Checkpointer\n"
        f"Checkpointer({str(tmp_path)!r}).close()"
    )
    assert loaded_after(code) == ["mlflow", "orbax"]


def test_matplotlib_loads_with_a_figure_and_penzai_with_a_penzai_model():
    figure = "from simplexity.analysis import plot_training_curve"
    assert loaded_after(figure) == ["matplotlib"]
    penzai_model = (
        "from simplexity.config import load_config\n"
        "from simplexity import build\n"
        "build(load_config(['predictive_model=penzai_transformer'])).model"
    )
    assert "penzai" in loaded_after(penzai_model)
