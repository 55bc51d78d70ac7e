#!/usr/bin/env bash
# Checks simplexity on a machine with an NVIDIA GPU, in under 8 minutes: scripts/device_check.sh
#
# Stages, each under `timeout`: (1) the project's .venv (scripts/ensure_venv.sh) with the cuda12 extra, the install
# skipped when JAX there already sees a GPU; (2) JAX must see a GPU; (3) the tests marked `gpu`; (4) the training
# benchmark with the GPU-sized models. Writes into $OUT (default ./device_check_out): environment.txt, pytest_gpu.txt
# and pytest_gpu.xml (JUnit), bench_train.json and summary.txt. Stages 3 and 4 both run; the script exits non-zero
# if any stage fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${OUT:-./device_check_out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$root"
python=.venv/bin/python
failed=()

say() { echo "== $(date +%T) $*" >&2; }

# run_stage NAME SECONDS COMMAND...: runs COMMAND under `timeout`, records the outcome in summary.txt.
run_stage() {
  local name="$1" seconds="$2" status=0 reason
  shift 2
  local command="$*"
  [ "${command%%$'\n'*}" = "$command" ] || command="${command%%$'\n'*} ..."
  say "$name (at most ${seconds}s): $command"
  timeout --kill-after=5 "$seconds" "$@" || status=$?
  if [ "$status" -eq 0 ]; then
    echo "$name: ok" >>"$out/summary.txt"
    return 0
  fi
  if [ "$status" -eq 124 ]; then reason="timed out after ${seconds}s"; else reason="exit status $status"; fi
  echo "$name: FAILED ($reason)" | tee -a "$out/summary.txt" >&2
  failed+=("$name")
  return "$status"
}

: >"$out/summary.txt"
say "writing into $out"

say "1. environment: .venv with the cuda12 extra"
install='source scripts/ensure_venv.sh
if .venv/bin/python -c "import jax, sys; sys.exit(jax.default_backend() != \"gpu\")" 2>/dev/null; then
  echo "JAX already sees a GPU: the cuda12 extra is not installed again" >&2
else
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,cuda12]"
fi'
if ! run_stage install 140 bash -c "$install"; then
  echo "error: could not make .venv with the cuda12 extra (see the output above)" >&2
  exit 1
fi

say "2. JAX must see a GPU"
if command -v nvidia-smi >/dev/null; then nvidia-smi >"$out/environment.txt" 2>&1 || true; else
  echo "nvidia-smi: not on PATH" >"$out/environment.txt"
fi
check='import jax, sys
print("jax", jax.__version__, "backend", jax.default_backend(), "devices", jax.devices())
if jax.default_backend() != "gpu":
    print(f"JAX sees no GPU: its default backend is {jax.default_backend()!r}")
    sys.exit(1)'
status=0
run_stage gpu 30 "$python" -c "$check" >>"$out/environment.txt" || status=$?
tail -n 1 "$out/environment.txt" >&2
if [ "$status" -ne 0 ]; then
  echo "error: JAX sees no GPU (see $out/environment.txt)" >&2
  exit 1
fi

say "3. tests marked gpu"
run_stage pytest_gpu 90 "$python" -m pytest -m gpu -q -p no:cacheprovider --junitxml="$out/pytest_gpu.xml" \
  >"$out/pytest_gpu.txt" 2>&1 || true
cat "$out/pytest_gpu.txt" >&2

say "4. training benchmark with the GPU-sized models"
run_stage bench_train 200 "$python" scripts/bench_train.py --gpu-sized --steps 20 --repeats 3 \
  >"$out/bench_train.json" || true

cat "$out/summary.txt" >&2
if [ "${#failed[@]}" -gt 0 ]; then
  say "FAILED: ${failed[*]}; results in $out"
  exit 1
fi
say "all stages passed; results in $out"
