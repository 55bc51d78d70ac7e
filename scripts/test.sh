#!/usr/bin/env bash
# Installs what is needed (once) and runs the whole test suite: scripts/test.sh [pytest arguments ...]
#
# Without arguments the suite runs on two stacks: every test on the one a plain `pip install simplexity`
# resolves (.venv-plain: no extras, so the newest mlflow-skinny and pandas; tests that need an extra skip
# there), then, on the stack of every extra (.venv: the dev extra, whose tracking and sweeps extras pin mlflow 2
# and what optuna 2 needs), the tests that need an extra and those of the packages whose versions differ between
# the two (MLflow logging, run records, sweep tables). With arguments, pytest runs them in .venv alone.
# Test files are spread over one worker process per CPU core (pytest-xdist; a file's tests share a worker, so
# module-scoped fixtures compile once); `-n 0` runs them in this process. Both stacks share one persistent JAX
# compilation cache (tests/conftest.py), removed at the end.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ "$#" -gt 0 ]; then
  source "$root/scripts/ensure_venv.sh" .venv dev
  exec "$root/.venv/bin/python" -m pytest -n auto --dist loadfile "$@"
fi
source "$root/scripts/ensure_venv.sh" .venv-plain test
source "$root/scripts/ensure_venv.sh" .venv dev
SIMPLEXITY_TEST_COMPILATION_CACHE="$(mktemp -d "${TMPDIR:-/tmp}/simplexity-tests-jax-cache-XXXXXX")"
export SIMPLEXITY_TEST_COMPILATION_CACHE
trap 'rm -rf "$SIMPLEXITY_TEST_COMPILATION_CACHE"' EXIT
echo "== the plain-install stack (.venv-plain): the whole suite" >&2
"$root/.venv-plain/bin/python" -m pytest -n auto --dist loadfile
echo "== the stack with every extra (.venv): tests that need an extra, and those of the packages the extras pin" >&2
"$root/.venv/bin/python" -m pytest -n auto --dist loadfile -m "extras or stack"
