"""simplexity as a user installs it: a wheel, installed non-editable, used from outside the checkout."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
ROOT_CONFIGS = ROOT / "configs"
pytestmark = pytest.mark.slow

SCRIPT = """
import json, simplexity
from simplexity.config import CONFIG_DIR
cfg = simplexity.load_config(["training=tiny"])
result = simplexity.build(cfg).train()
print(json.dumps({"file": simplexity.__file__, "configs": str(CONFIG_DIR), "models": simplexity.list_models(),
                  "processes": simplexity.list_processes(), "loss": result.metrics[-1]["loss"]}))
"""


PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
# The test environment's own variables, less the checkout on PYTHONPATH: the installed package must stand alone.
ENVIRONMENT = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def yamls_of_configs() -> set[Path]:
    """Returns the YAMLs of the repository's `configs/`, relative to it."""
    return {path.relative_to(ROOT_CONFIGS) for path in ROOT_CONFIGS.rglob("*.yaml")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Builds the wheel from a copy of the sources: the packages, `configs/`, pyproject.toml and the README."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("simplexity", "hydra_plugins", "configs"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    build = [*PIP, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "dist"), "."]
    built = run(build, source, ENVIRONMENT)
    assert built.returncode == 0, built.stderr
    (wheel,) = (base / "dist").glob("simplexity-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Installs the wheel, without dependencies, into its own folder; returns it and the environment that uses it.

    The dependencies are the test environment's, already installed: only simplexity itself comes from the wheel.
    """
    site = tmp_path_factory.mktemp("installed") / "site"
    installed = run([*PIP, "install", "--no-deps", "--target", str(site), str(wheel)], wheel.parent, ENVIRONMENT)
    assert installed.returncode == 0, installed.stderr
    return site, {**ENVIRONMENT, "PYTHONPATH": str(site)}


def test_the_wheel_holds_every_yaml_of_configs_under_simplexity_configs(wheel):
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = {name for name in archive.namelist() if name.endswith(".yaml")}
    assert len(yamls_of_configs()) > 40
    assert in_wheel == {f"simplexity/configs/{path.as_posix()}" for path in yamls_of_configs()}


def test_the_wheel_installs_every_yaml_of_configs_as_package_data(installed):
    site, _ = installed
    configs = site / "simplexity" / "configs"
    assert (configs / "train.yaml").is_file() and (configs / "analyze.yaml").is_file()
    shipped = {path.relative_to(configs) for path in configs.rglob("*.yaml")}
    assert shipped == yamls_of_configs()
    assert all((configs / path).read_bytes() == (ROOT_CONFIGS / path).read_bytes() for path in shipped)
    assert (site / "hydra_plugins" / "simplexity_sweeper" / "__init__.py").is_file()  # hydra/sweeper=jobwise


def test_the_console_commands_train_and_analyse_outside_the_checkout(installed, tmp_path):
    site, environment = installed
    assert not any(tmp_path.iterdir())
    run_dir = tmp_path / "run"
    trained = run(
        [str(site / "bin" / "simplexity-train"), "training=tiny", f"hydra.run.dir={run_dir}"], tmp_path, environment
    )
    assert trained.returncode == 0, trained.stderr
    assert (run_dir / "config.yaml").is_file() and (run_dir / "metrics.jsonl").is_file()
    assert "6" in {path.name for path in (run_dir / "checkpoints").iterdir()}
    analysed = run(
        [str(site / "bin" / "simplexity-analyze"), f"run_dir={run_dir}", "max_context_len=4"], tmp_path, environment
    )
    assert analysed.returncode == 0, analysed.stderr
    assert json.loads((run_dir / "analysis.json").read_text())["step"] == 6
    mistake = run([str(site / "bin" / "simplexity-train"), "predictive_model=nope"], tmp_path, environment)
    assert mistake.returncode == 2
    assert mistake.stderr.startswith("error: predictive_model=nope: no such option")


def test_the_console_commands_compose_the_installed_configs(installed, tmp_path):
    site, environment = installed
    search_path = run([str(site / "bin" / "simplexity-train"), "--info", "searchpath"], tmp_path, environment)
    assert search_path.returncode == 0, search_path.stderr
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in search_path.stdout.splitlines()]
    assert ["main", f"file://{site / 'simplexity' / 'configs'}"] in rows


def test_a_script_loads_builds_and_trains_from_the_installed_package(installed, tmp_path):
    site, environment = installed
    result = run([sys.executable, "-c", SCRIPT], tmp_path, environment)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).is_relative_to(site)
    assert not Path(report["file"]).is_relative_to(ROOT)
    assert Path(report["configs"]) == site / "simplexity" / "configs"
    assert report["models"] == ["gru_rnn", "gruformer", "lstm", "penzai_transformer", "transformer"]
    assert "mess3" in report["processes"] and "leaky_rrxor" in report["processes"]
    assert report["loss"] > 0
