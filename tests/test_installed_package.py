"""simplexity as a user installs it: a wheel, installed non-editable, used from outside the checkout."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
pytestmark = pytest.mark.slow

SCRIPT = """
import json, simplexity
cfg = simplexity.load_config(["training=tiny"])
result = simplexity.build(cfg).train()
print(json.dumps({"file": simplexity.__file__, "models": simplexity.list_models(),
                  "processes": simplexity.list_processes(), "loss": result.metrics[-1]["loss"]}))
"""


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Builds the wheel from a copy of the sources and installs it, without dependencies, into its own folder.

    The dependencies are the test environment's, already installed: only simplexity itself comes from the wheel.
    """
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for package in ("simplexity", "hydra_plugins"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    built = run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "wheel"), "."], source, environment
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (base / "wheel").glob("simplexity-*.whl")
    site = base / "site"
    installed = run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], base, environment)
    assert installed.returncode == 0, installed.stderr
    return site, {**environment, "PYTHONPATH": str(site)}


def test_the_wheel_ships_the_configs(installed):
    site, _ = installed
    configs = site / "simplexity" / "configs"
    assert (configs / "train.yaml").is_file() and (configs / "analyze.yaml").is_file()
    shipped = {path.relative_to(configs) for path in configs.rglob("*.yaml")}
    in_checkout = {
        path.relative_to(ROOT / "simplexity" / "configs") for path in (ROOT / "simplexity" / "configs").rglob("*.yaml")
    }
    assert shipped == in_checkout
    assert (site / "hydra_plugins" / "simplexity_sweeper" / "__init__.py").is_file()  # hydra/sweeper=jobwise


def test_the_console_commands_train_and_analyse_outside_the_checkout(installed, tmp_path):
    site, environment = installed
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


def test_a_script_loads_builds_and_trains_from_the_installed_package(installed, tmp_path):
    site, environment = installed
    result = run([sys.executable, "-c", SCRIPT], tmp_path, environment)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).is_relative_to(site)
    assert not Path(report["file"]).is_relative_to(ROOT)
    assert report["models"] == ["gru_rnn", "gruformer", "lstm", "penzai_transformer", "transformer"]
    assert "mess3" in report["processes"] and "leaky_rrxor" in report["processes"]
    assert report["loss"] > 0
