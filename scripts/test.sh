#!/usr/bin/env bash
# Installs what is needed (once) and runs the whole test suite: scripts/test.sh [pytest arguments ...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/ensure_venv.sh"
cd "$root"
exec "$root/.venv/bin/python" -m pytest "$@"
