#!/usr/bin/env bash
# Installs what is needed (once) and runs the whole test suite: scripts/test.sh [pytest arguments ...]
# Test files are spread over one worker process per CPU core (pytest-xdist; a file's tests share a worker, so
# module-scoped fixtures compile once); `-n 0` runs them in this process.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/ensure_venv.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest -n auto --dist loadfile "$@"
