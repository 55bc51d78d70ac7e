"""docs/notebooks/quickstart.ipynb: executed as a notebook, in a Jupyter kernel, and stored with its outputs."""

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parents[1]
NOTEBOOK = ROOT / "docs" / "notebooks" / "quickstart.ipynb"

pytestmark = pytest.mark.slow


def printed(notebook: nbformat.NotebookNode) -> str:
    """The text every code cell printed, in order."""
    texts = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            texts += [output.get("text", "") for output in cell.outputs if output.output_type == "stream"]
    return "".join(texts)


@pytest.fixture(scope="module")
def executed() -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(ROOT)}})
    return client.execute()


def test_every_cell_runs_in_a_kernel_without_an_error(executed):
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert not [output for output in cell.outputs if output.output_type == "error"], cell.source


def test_the_notebook_trains_and_compares_with_the_optimum(executed):
    text = printed(executed)
    assert "entropy rate: 1.0889 nats" in text
    assert "layer_0.hidden (2, 16, 64)" in text
    validation = next(line for line in text.splitlines() if line.startswith("validation loss:"))
    assert float(validation.split()[2]) < 1.1


def test_the_stored_notebook_holds_the_outputs_of_one_run_in_order():
    notebook = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in code_cells] == list(range(1, len(code_cells) + 1))
    assert all(cell["outputs"] for cell in code_cells)
    stored = printed(nbformat.reads(json.dumps(notebook), as_version=4))
    assert "entropy rate: 1.0889 nats" in stored and "layer_0.hidden (2, 16, 64)" in stored
