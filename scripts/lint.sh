#!/usr/bin/env bash
# Installs what is needed (once), then lints, checks formatting and type-checks: scripts/lint.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$root/scripts/ensure_venv.sh" .venv dev
cd "$root"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/pyright
