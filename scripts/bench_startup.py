"""Benchmark of a short run's start: the import, and a whole tiny run with and without JAX's compilation cache.

Prints one JSON object: `import_seconds` (the best of `--repeats` fresh interpreters importing the training
command's module) and, for the run `python run_experiment.py training=tiny` in a new process each time,
`run_seconds` per setting: `no_cache` (two runs), and for each minimum compile time kept in the cache
(`min_compile_time_0`, `min_compile_time_1`, ...) the `cold` run, which compiles and writes a fresh cache, and the
`warm` one after it. Every run writes into a temporary directory that is removed at the end. See
docs/performance.md.

    .venv/bin/python scripts/bench_startup.py
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY_RUN = ("run_experiment.py", "training=tiny")


def _seconds(command: list[str], env: dict[str, str]) -> float:
    """Runs `command` from the repository root and returns its wall time; fails loudly if it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} exited {result.returncode}: {result.stderr.strip()[-500:]}")
    return round(elapsed, 2)


def _cache_env(cache_dir: str, min_compile_time: float) -> dict[str, str]:
    """The environment of a run that uses the compilation cache in `cache_dir`."""
    return {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": cache_dir,
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": str(min_compile_time),
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
    }


def main() -> None:
    """Measures and prints the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="fresh interpreters timed for the import")
    parser.add_argument(
        "--min-compile-times", type=float, nargs="+", default=[0.0, 0.3, 1.0], help="seconds; one cache each"
    )
    args = parser.parse_args()
    env = {key: value for key, value in os.environ.items() if not key.startswith("JAX_")}
    import_command = [sys.executable, "-c", "import simplexity.commands"]
    figures: dict[str, object] = {
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg()[0],
        "import_seconds": min(_seconds(import_command, env) for _ in range(args.repeats)),
    }
    runs: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_startup_") as scratch:

        def tiny_run(name: str, run_env: dict[str, str]) -> float:
            return _seconds([sys.executable, *TINY_RUN, f"hydra.run.dir={Path(scratch) / name}"], run_env)

        runs["no_cache"] = {"first": tiny_run("plain_1", env), "second": tiny_run("plain_2", env)}
        for min_time in args.min_compile_times:
            cache_env = _cache_env(str(Path(scratch) / f"cache_{min_time:g}"), min_time)
            key = f"min_compile_time_{min_time:g}"
            runs[key] = {"cold": tiny_run(f"{key}_cold", cache_env), "warm": tiny_run(f"{key}_warm", cache_env)}
    figures["run_seconds"] = runs
    figures["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
