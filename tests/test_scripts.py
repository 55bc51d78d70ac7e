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


def _install_with(root: Path, uv_works: bool) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Sources ensure_venv.sh for `.venv-plain` with a fake python that logs each call; uv fails unless `uv_works`."""
    shutil.copytree(REPO / "scripts", root / "scripts")
    bin_dir = root / ".venv-plain" / "bin"
    bin_dir.mkdir(parents=True)
    log = root / "calls.txt"
    failing = "" if uv_works else 'case " $* " in *" uv "*) exit 1;; esac\n'
    (bin_dir / "python").write_text(f'#!/usr/bin/env bash\necho "$*" >> "{log}"\n{failing}')
    (bin_dir / "python").chmod(0o755)
    completed = subprocess.run(
        ["bash", "-c", "source scripts/ensure_venv.sh .venv-plain test"],
        cwd=root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        check=False,
    )
    return completed, log.read_text().splitlines()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_install_goes_through_uv_into_the_environment(tmp_path):
    completed, calls = _install_with(tmp_path, uv_works=True)
    assert completed.returncode == 0, completed.stderr
    python = tmp_path / ".venv-plain" / "bin" / "python"
    assert calls == [
        "-m pip install --quiet --disable-pip-version-check uv",
        f"-m uv pip install --quiet --python {python} -e {tmp_path}[test]",
    ]
    assert (tmp_path / ".venv-plain" / ".simplexity-installed").is_file()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_install_falls_back_to_pip_in_one_line_when_uv_cannot_install(tmp_path):
    completed, calls = _install_with(tmp_path, uv_works=False)
    assert completed.returncode == 0, completed.stderr
    assert calls == [
        "-m pip install --quiet --disable-pip-version-check uv",
        f"-m pip install --quiet --disable-pip-version-check -e {tmp_path}[test]",
    ]
    assert completed.stderr.splitlines()[-1] == "uv could not install; installing with pip"
    assert (tmp_path / ".venv-plain" / ".simplexity-installed").is_file()
