#!/usr/bin/env bash
# Installs what is needed (once) and runs an experiment: scripts/run_experiment.sh [key=value ...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/ensure_venv.sh" .venv dev
cd "$root"
exec "$root/.venv/bin/python" run_experiment.py "$@"
