import json
import shutil
import subprocess

import pytest

from simplexity.persistence.provenance import ProvenanceLog, collect_provenance, git_state
from simplexity.run_directory import PROVENANCE_FILE

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(directory, *arguments):
    return subprocess.run(["git", "-C", str(directory), *arguments], capture_output=True, text=True, check=True)


@needs_git
def test_git_state_names_the_commit_and_whether_tracked_files_changed(tmp_path):
    (tmp_path / "simplexity").mkdir()
    (tmp_path / "simplexity" / "__init__.py").write_text("")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    commit = git(tmp_path, "rev-parse", "HEAD").stdout.strip()
    (tmp_path / "outputs.txt").write_text("untracked output")
    assert git_state(tmp_path) == (commit, False)
    (tmp_path / "simplexity" / "__init__.py").write_text("changed = True\n")
    assert git_state(tmp_path) == (commit, True)


def test_git_state_outside_a_checkout_of_simplexity_is_unknown(tmp_path):
    assert git_state(tmp_path) == (None, None)


def test_a_resumed_run_appends_its_record_and_keeps_the_earlier_ones(tmp_path):
    first = ProvenanceLog(tmp_path, collect_provenance(start_step=0))
    first.finish(3, 20, "loss became non-finite at step 25")
    second = ProvenanceLog(tmp_path, collect_provenance(start_step=20))
    on_disk = json.loads((tmp_path / PROVENANCE_FILE).read_text())
    assert [r["start_step"] for r in on_disk] == [0, 20]
    assert on_disk[0]["exit_status"] == 3 and on_disk[0]["error"] == "loss became non-finite at step 25"
    assert on_disk[1]["exit_status"] is None  # running: not finished yet
    second.finish(0, 40)
    on_disk = json.loads((tmp_path / PROVENANCE_FILE).read_text())
    assert [(r["end_step"], r["exit_status"]) for r in on_disk] == [(20, 3), (40, 0)]
    assert "error" not in on_disk[1]
    assert not list(tmp_path.glob(".*partial"))
