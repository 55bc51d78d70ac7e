"""The layout of a run directory: its config files in order, its checkpoints, and the runs under a root."""

from pathlib import Path

from simplexity.run_directory import (
    CONFIG_FILE,
    FAILED_FILE,
    checkpoint_steps,
    config_paths,
    find_run_dirs,
    natural_key,
    next_config_path,
)


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x: 1\n")
    return path


def test_config_files_are_in_order_of_their_starts(tmp_path):
    for name in ("config.10.yaml", "config.2.yaml", "config.yaml", "config.1.yaml", "config.bak.yaml", "other.yaml"):
        touch(tmp_path / name)
    names = [path.name for path in config_paths(tmp_path)]
    assert names == ["config.yaml", "config.1.yaml", "config.2.yaml", "config.10.yaml"]


def test_the_next_config_file_is_the_first_free_one(tmp_path):
    assert next_config_path(tmp_path) == tmp_path / CONFIG_FILE
    touch(tmp_path / CONFIG_FILE)
    touch(tmp_path / "config.1.yaml")
    assert next_config_path(tmp_path) == tmp_path / "config.2.yaml"


def test_checkpoint_steps_are_the_directories_named_by_a_step(tmp_path):
    for name in ("10", "2", "4.damaged", "6.orbax-checkpoint-tmp-123", "007"):
        (tmp_path / name).mkdir()
    touch(tmp_path / "8")  # a file, not a checkpoint
    assert checkpoint_steps(tmp_path) == [2, 10]
    assert checkpoint_steps(tmp_path / "missing") == []


def test_natural_order_takes_numbers_by_value():
    assert sorted(["run_10", "run_2", "run_1b", "a"], key=natural_key) == ["a", "run_1b", "run_2", "run_10"]


def test_runs_are_found_at_any_depth_in_natural_order_and_hidden_folders_skipped(tmp_path):
    for run in ("10", "2", "nested/3", ".hydra", ".submitit/4", "2/.hydra"):
        touch(tmp_path / run / CONFIG_FILE)
    touch(tmp_path / "failed" / FAILED_FILE)
    found = find_run_dirs(tmp_path)
    assert [path.relative_to(tmp_path).as_posix() for path in found] == ["2", "10", "nested/3"]
    with_failed = find_run_dirs(tmp_path, (CONFIG_FILE, FAILED_FILE))
    assert [path.relative_to(tmp_path).as_posix() for path in with_failed] == ["2", "10", "failed", "nested/3"]
    assert find_run_dirs(tmp_path / "2") == [tmp_path / "2"]  # the root itself, but not its hidden `.hydra`


def test_runs_directly_inside_a_sweep_skip_nested_and_hidden_ones(tmp_path):
    for run in ("10", "2", "nested/3", ".hydra"):
        touch(tmp_path / run / CONFIG_FILE)
    assert [path.name for path in find_run_dirs(tmp_path, nested=False)] == ["2", "10"]
    assert find_run_dirs(tmp_path / "missing") == []
