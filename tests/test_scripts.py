"""The shell scripts pass the project's environment to ensure_venv.sh, whatever arguments they are given."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _project_with_fake_venv(root: Path) -> Path:
    """Copies scripts/ into `root` beside a `.venv` whose python records its arguments; returns the record file."""
    shutil.copytree(REPO / "scripts", root / "scripts")
    bin_dir = root / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    record = root / "python_args.txt"
    python = bin_dir / "python"
    python.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "{record}"\n')
    python.chmod(0o755)
    (root / ".venv" / ".simplexity-installed").touch()
    return record


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_run_experiment_sh_uses_dot_venv_with_overrides(tmp_path):
    """`scripts/run_experiment.sh KEY=VALUE` runs `.venv`'s python, not a venv named after the first override."""
    record = _project_with_fake_venv(tmp_path)
    completed = subprocess.run(
        ["bash", str(tmp_path / "scripts" / "run_experiment.sh"), "predictive_model=gru_rnn", "seed=1"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(tmp_path / "no_such_python")},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert record.read_text().splitlines() == ["run_experiment.py", "predictive_model=gru_rnn", "seed=1"]
    assert not (tmp_path / "predictive_model=gru_rnn").exists()
