"""The package's import layering, read from the source's AST (docs/design.md, "Layers").

Each module imports only from its own layer or the layers below it; only the application layer imports Hydra or
OmegaConf; only the MLflow logger's modules import MLflow. Every import statement counts, those inside functions
(lazy imports) and under `TYPE_CHECKING` too.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

# Low to high: a module may import from its own layer and the ones before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("simplexity.errors", "simplexity.value_checks", "simplexity.interruption", "simplexity.run_directory"),
    ("simplexity.generative_processes",),
    ("simplexity.predictive_models",),
    ("simplexity.logging",),
    ("simplexity.persistence",),
    ("simplexity.training",),
    ("simplexity.analysis",),
)
APPLICATION = len(LAYERS)  # everything else under simplexity/, and hydra_plugins/
CONFIG_LIBRARIES = ("hydra", "omegaconf")
MLFLOW_MODULES = ("simplexity.logging.mlflow_logger", "simplexity.logging.tracking_uri")


def layer_of(module: str) -> int:
    """Returns the layer of a module of the package (the application's for anything not listed)."""
    for index, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return index
    return APPLICATION


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """Returns `(line, name)` for every module an import statement of `source` names, relative ones resolved."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            # `from simplexity import training` imports the subpackage itself.
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names if base == "simplexity")
    return found


def violations(module: str, source: str) -> list[str]:
    """Returns one line per import of `source` (the text of `module`) that breaks the layering."""
    own = layer_of(module)
    broken = []
    for line, name in imported_modules(source, module):
        top = name.split(".")[0]
        if top in CONFIG_LIBRARIES and own != APPLICATION:
            broken.append(f"{module}:{line} imports {name}: only the application layer uses Hydra and OmegaConf")
        elif top == "mlflow" and module not in MLFLOW_MODULES:
            broken.append(f"{module}:{line} imports {name}: only the MLflow logger's modules import MLflow")
        elif top == "simplexity" and name != "simplexity" and layer_of(name) > own:
            broken.append(f"{module}:{line} imports {name}, a layer above its own")
    return broken


def package_modules() -> dict[str, Path]:
    """Returns every module of simplexity/ and hydra_plugins/ by dotted name."""
    modules = {}
    for top in ("simplexity", "hydra_plugins"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def test_the_package_keeps_its_layers():
    broken = [line for module, path in package_modules().items() for line in violations(module, path.read_text())]
    assert not broken, "\n".join(broken)


def test_every_listed_layer_exists():
    modules = package_modules()
    for prefixes in LAYERS:
        for prefix in prefixes:
            assert any(name == prefix or name.startswith(prefix + ".") for name in modules), prefix


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("simplexity.training.trainer", "import hydra", "only the application layer uses Hydra"),
        ("simplexity.analysis.plots", "def f():\n    from omegaconf import OmegaConf", "only the application layer"),
        ("simplexity.persistence.checkpointer", "import mlflow", "only the MLflow logger's modules"),
        ("simplexity.generative_processes.builder", "from simplexity.training import train", "a layer above"),
        ("simplexity.logging.metrics_logger", "from simplexity import training", "a layer above"),
        ("simplexity.analysis.regression", "from ..run_record import load_run", "a layer above"),
    ],
)
def test_a_forbidden_import_is_found(module, source, expected):
    (found,) = violations(module, source)
    assert expected in found


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("simplexity.training.trainer", "from simplexity.generative_processes import GenerativeProcess"),
        ("simplexity.run", "import hydra\nfrom simplexity.training import train"),
        ("simplexity.logging.mlflow_logger", "import mlflow"),
        ("simplexity.analysis.regression", "from .controls import is_exact"),
    ],
)
def test_an_allowed_import_passes(module, source):
    assert violations(module, source) == []
