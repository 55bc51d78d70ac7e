"""Importing the library loads what it uses: MLflow when an MLflow logger is made, orbax when a checkpointer is."""

import json
import subprocess
import sys

import pytest

from tests.command_line import ROOT

pytestmark = pytest.mark.slow


def loaded_after(code: str) -> list[str]:
    """Runs `code` in a fresh interpreter and returns which of MLflow and orbax it loaded."""
    packages = "{name.split('.')[0] for name in sys.modules} & {'mlflow', 'orbax'}"
    report = f"import json, sys; print(json.dumps(sorted({packages})))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_library_and_the_trainer_load_neither_mlflow_nor_orbax():
    assert loaded_after("import simplexity\nfrom simplexity.training import train") == []


def test_the_commands_load_neither_before_a_run_needs_them():
    assert loaded_after("import simplexity.cli\nimport simplexity.commands") == []


def test_mlflow_loads_with_the_mlflow_logger_and_orbax_with_a_checkpointer(tmp_path):
    code = (
        "from simplexity.logging import MlflowLogger\n"
        "from simplexity.persistence import Checkpointer\n"
        f"Checkpointer({str(tmp_path)!r}).close()"
    )
    assert loaded_after(code) == ["mlflow", "orbax"]
