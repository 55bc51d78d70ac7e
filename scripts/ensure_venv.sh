#!/usr/bin/env bash
# Creates the project's virtual environment in .venv and installs simplexity into it (editable, with the
# dev extra) when it is missing or older than pyproject.toml. Sourced by the other scripts.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.simplexity-installed"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: PYTHON=$python: simplexity needs Python 3.11 or newer; set PYTHON to such an interpreter" >&2
    exit 2
  fi
  echo "creating $venv" >&2
  "$python" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  echo "installing simplexity and its dependencies into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$root[dev]"
  touch "$stamp"
fi
