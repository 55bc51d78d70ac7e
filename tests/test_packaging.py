"""The source tree as the wheel packs it: `configs/` the one copy of every YAML, the package list complete."""

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from simplexity.config import CONFIG_DIR

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def tracked_files() -> list[str]:
    """Returns the files git tracks in the checkout (skips the test outside a git checkout)."""
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run([git, "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return listed.stdout.splitlines()


def test_a_source_tree_composes_from_configs_at_the_repository_root():
    assert CONFIG_DIR == ROOT / "configs"
    assert (CONFIG_DIR / "train.yaml").is_file() and (CONFIG_DIR / "analyze.yaml").is_file()


def test_configs_holds_the_one_copy_of_every_yaml():
    assert not list((ROOT / "simplexity").rglob("*.yaml"))
    assert not [path for path in (ROOT / "configs").rglob("*") if path.is_symlink()]
    yamls = [name for name in tracked_files() if name.endswith((".yaml", ".yml"))]
    assert len(yamls) > 40
    assert [name for name in yamls if not name.startswith(("configs/", ".github/"))] == []


def test_the_wheel_maps_simplexity_configs_onto_configs():
    assert PYPROJECT["package-dir"] == {"simplexity.configs": "configs"}
    assert "**/*.yaml" in PYPROJECT["package-data"]["simplexity.configs"]
    assert (ROOT / "configs" / "__init__.py").is_file()  # what an editable install imports as simplexity.configs


def test_the_package_list_names_every_package_of_the_source_tree():
    packages = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("simplexity", "hydra_plugins")
        for init in (ROOT / top).rglob("__init__.py")
    }
    # hydra_plugins is a namespace package, as Hydra's plugin discovery needs it.
    assert set(PYPROJECT["packages"]) == packages | {"hydra_plugins", "simplexity.configs"}
