"""Executes docs/notebooks/quickstart.ipynb: every code cell, in order, in one namespace, as a kernel would."""

import json
from pathlib import Path

NOTEBOOK = Path(__file__).parents[1] / "docs" / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_runs(capsys):
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    namespace: dict = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{NOTEBOOK.name}:{cell['id']}", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "entropy rate:" in printed and "layer_0" in printed
    assert namespace["result"].metrics[-1]["step"] == 300
    assert namespace["final"]["validation/loss"] < 1.1
