#!/usr/bin/env bash
# Creates a virtual environment of the project and installs simplexity into it (editable) when it is missing or
# older than pyproject.toml. Sourced by the other scripts: `source scripts/ensure_venv.sh [DIR [EXTRAS]]`, by
# default `.venv` with the `dev` extra (every extra the tests use); `.venv-plain` with the `test` extra is the
# stack a plain `pip install simplexity` resolves, plus the test runner. The install goes through uv's pip
# interface (the same resolution as pip, in seconds rather than minutes); where uv cannot be had or cannot reach
# the packages (an index configured for pip alone, say), pip installs instead. SIMPLEXITY_INSTALLER=pip skips uv.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/${1:-.venv}"
extras="${2:-dev}"
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
  echo "installing simplexity[$extras] and its dependencies into $venv" >&2
  pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
  if [ "${SIMPLEXITY_INSTALLER:-uv}" = uv ] && "${pip[@]}" uv >/dev/null 2>&1 \
    && "$venv/bin/python" -m uv pip install --quiet --python "$venv/bin/python" -e "$root[$extras]"; then
    :
  else
    [ "${SIMPLEXITY_INSTALLER:-uv}" = uv ] && echo "uv could not install; installing with pip" >&2
    "${pip[@]}" -e "$root[$extras]"
  fi
  touch "$stamp"
fi
