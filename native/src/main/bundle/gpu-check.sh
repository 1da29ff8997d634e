#!/usr/bin/env bash
# The one-shot GPU verification (issue 20): run from the repository root on a GPU host that has the NVIDIA driver,
# CUDA 13 libraries (toolkit or NVIDIA's pip wheels) and PyTorch, but no JDK, Maven or network. Needs the bundle
# built beforehand on any machine (native/src/main/bundle/make-bundle.sh -> .bundle/fluxion-gpu, carried along).
#
#   native/src/main/bundle/gpu-check.sh RESULTS_DIR [BUNDLE_DIR]
#
# Steps, in order, each with its own time limit; a step that cannot finish inside what is left of the whole budget
# (FLUXION_CHECK_BUDGET seconds, default 480) is not started and says so:
#   1 environment      nvidia-smi, the CUDA libraries bin/cuda-lib-path finds, python3/torch, compute-sanitizer
#   2 doctor           fluxion-gpu doctor --require-gpu (fails without a usable GPU: the GPU steps are then "not possible")
#   3 gpu tests        one JVM per test class (a sticky CUDA error in one class cannot hide the others' results)
#   4 nccl             the NCCL process-group tests on one GPU
#   5 benchmarks       GpuBench (Fluxion) and bench_torch.py (PyTorch, same GPU), CharGpt a few hundred steps, one table
#   6 sanitizer        compute-sanitizer memcheck over a few kernel test classes, if time remains
# Writes at most 8 small files into RESULTS_DIR: summary.txt (steps, counts per class), failures.txt, benchmarks.txt,
# environment.txt, tests.log (tail), bench.tsv (raw), sanitizer.txt. FLUXION_CHECK_FORCE=1 runs the GPU steps even
# when the doctor finds no GPU (to exercise the script itself on a CPU machine: they then skip or fail fast).
# Exit status: 0 every step ran and no test failed; 1 a test failed (or timed out, or its JVM crashed); 2 a GPU step
# was not possible or not started.
set -uo pipefail
results=${1:?usage: gpu-check.sh RESULTS_DIR [BUNDLE_DIR]}
root=$(cd "$(dirname "$0")/../../../.." && pwd)
bundle=${2:-$root/.bundle/fluxion-gpu}
budget=${FLUXION_CHECK_BUDGET:-480}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$results"
results=$(cd "$results" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
start=$(date +%s)
summary=$results/summary.txt failures=$results/failures.txt env=$results/environment.txt testlog=$work/tests.log
: >"$summary"; : >"$failures"; : >"$env"; : >"$testlog"
fx=$bundle/bin/fluxion-gpu
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
gpu_ok=0
incomplete=0

step_end=0   # when the current step's own limit runs out (epoch seconds)
# seconds left: of the whole budget, and of the current step's limit
left() { local now b; now=$(date +%s); b=$((budget - (now - start))); [ "$step_end" -gt 0 ] && [ $((step_end - now)) -lt "$b" ] && b=$((step_end - now)); echo "$b"; }
note() { echo "$*" | tee -a "$summary"; }
# step NAME LIMIT: 0 when the step may start (LIMIT seconds fit in what is left), else records why not
step() {
  local name=$1 limit=$2 l
  step_end=0
  l=$(left)
  if [ "$l" -lt "$limit" ]; then note "step $name: NOT STARTED (needs ${limit}s, ${l}s of ${budget}s left)"; incomplete=1; return 1; fi
  note "step $name: started at +$(( $(date +%s) - start ))s, limit ${limit}s"
  step_end=$(( $(date +%s) + limit ))
  return 0
}
needs_gpu() {
  if [ "$gpu_ok" = 1 ] || [ -n "${FLUXION_CHECK_FORCE:-}" ]; then return 0; fi
  note "step $1: NOT POSSIBLE (no usable GPU: doctor --require-gpu failed, see environment.txt)"
  incomplete=1
  return 1
}
# tests LIMIT CLASS...: one JVM per class, counts and failures from GpuTestMain's report
run_classes() {
  local limit=$1; shift
  for c in "$@"; do
    local l per=$limit
    l=$(left)
    [ "$l" -lt 20 ] && { note "  $c: NOT STARTED (${l}s left)"; continue; }
    [ "$per" -gt $((l - 10)) ] && per=$((l - 10))
    echo "== $c" >>"$testlog"
    timeout --kill-after=5 "$per" "$fx" test --report "$work/report.tsv" "$c" >>"$testlog" 2>&1
    local rc=$?
    case $rc in
      0|1|3) ;;
      124|137) note "  $c: TIMED OUT after ${per}s"; printf 'failure\t%s\ttimed out after %ss\n' "$c" "$per" >>"$work/report.tsv" ;;
      *) note "  $c: JVM exited with $rc (crash? see tests.log)"; printf 'failure\t%s\tJVM exit %s\n' "$c" "$rc" >>"$work/report.tsv" ;;
    esac
  done
}

# ---------------------------------------------------------------- 1 environment
if step environment 20; then
  {
    echo "date: $(date -u '+%Y-%m-%dT%H:%M:%SZ')  host: $(uname -n) $(uname -m)  kernel: $(uname -r)"
    echo "command: $0 $*"
    echo "bundle: $bundle ($(du -sh "$bundle" 2>/dev/null | cut -f1))"
    if command -v nvidia-smi >/dev/null; then
      timeout 15 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,compute_cap --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
    else
      echo "gpu: nvidia-smi not found"
    fi
    echo "cuda libraries: $(timeout 10 "$root/bin/cuda-lib-path" 2>&1 | tr '\n' ' ')"
    echo "python: $(timeout 20 python3 -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1 | tail -n 1)"
    echo "compute-sanitizer: ${sanitizer:-not found}"
  } >>"$env"
  cat "$env"
fi

# ---------------------------------------------------------------- 2 doctor
if [ ! -x "$fx" ]; then
  note "step doctor: NOT POSSIBLE (no bundle at $bundle: build it with native/src/main/bundle/make-bundle.sh and carry it)"
elif step doctor 40; then
  echo "---- fluxion-gpu doctor --require-gpu" >>"$env"
  timeout --kill-after=5 35 "$fx" doctor --require-gpu >>"$env" 2>&1
  rc=$?
  if [ $rc = 0 ]; then gpu_ok=1; note "  doctor: a usable GPU"; else note "  doctor: exit $rc (no usable GPU; details in environment.txt)"; fi
fi

# ---------------------------------------------------------------- 3 gpu tests, one JVM per class
nccl_classes="dev.fluxion.parallel.nccl.NcclProcessGroupTest dev.fluxion.cuda.NcclOnGpuTest"
if [ -x "$fx" ] && needs_gpu "gpu tests" && step "gpu tests" 200; then
  classes=$(timeout 60 "$fx" test --list dev.fluxion.cuda 2>/dev/null | grep -v -e NcclOnGpuTest -e '^WARNING' || true)
  note "  $(echo "$classes" | grep -c . ) classes with gpu tests"
  # whole training steps and the newest kernels first: if the step runs out of time, the classes left out are the
  # narrow ones (the listing is alphabetical, which put the training steps last)
  first="dev.fluxion.cuda.TrainingStepOnGpuTest dev.fluxion.cuda.GptOnGpuTest dev.fluxion.cuda.CudaAttentionTest dev.fluxion.cuda.CudnnTest"
  rest=$(echo "$classes" | grep -v -x -F "$(echo "$first" | tr ' ' '\n')" || true)
  classes="$(for c in $first; do echo "$classes" | grep -x -F "$c" || true; done)
$rest"
  # shellcheck disable=SC2086
  run_classes 60 $classes
fi

# ---------------------------------------------------------------- 4 NCCL process group on one GPU
if [ -x "$fx" ] && needs_gpu nccl && step nccl 60; then
  # shellcheck disable=SC2086
  run_classes 50 $nccl_classes
fi

# per-class counts and failures (steps 3 and 4)
if [ -f "$work/report.tsv" ]; then
  awk -F'\t' '$1 == "class" { printf "  %-55s %3d passed %3d failed %3d skipped%s\n", $2, $3, $4, $5, ($3 + $4 == 0 ? "  (no test ran)" : "") }' "$work/report.tsv" | tee -a "$summary"
  awk -F'\t' '$1 == "class" { p += $3; f += $4; s += $5 } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$work/report.tsv" | tee -a "$summary"
  awk -F'\t' '$1 == "failure" { print $2 ": " substr($3, 1, 600) }' "$work/report.tsv" >>"$failures"
fi

# ---------------------------------------------------------------- 5 benchmarks against PyTorch on the same GPU
bench=$results/bench.tsv
if needs_gpu benchmarks && step benchmarks 220; then
  : >"$work/fluxion.tsv"
  if [ -x "$fx" ]; then
    timeout --kill-after=5 80 "$fx" run dev.fluxion.cuda.GpuBench "$work/fluxion.tsv" >>"$work/bench.log" 2>&1 || note "  GpuBench: exit $? (see bench.log in tests.log)"
    timeout --kill-after=5 50 "$fx" run dev.fluxion.examples.CharGpt --data "$root/README.md" --steps 300 --eval-every 100 --sample 0 \
      --out "$work/chargpt" >"$work/chargpt.log" 2>&1 || note "  CharGpt: exit $?"
    grep -E '^(device|model|done on)' "$work/chargpt.log" | sed 's/^/  CharGpt /' | tee -a "$summary"
    tps=$(sed -n 's/^done on .* validation loss \([0-9.]*\), \([0-9,]*\) tokens\/s$/\2/p' "$work/chargpt.log" | tr -d ,)
    [ -n "$tps" ] && printf 'chargpt_tokens_per_s\t%s\ttokens/s\n' "$tps" >>"$work/fluxion.tsv"
  fi
  timeout --kill-after=5 80 python3 "$here/bench_torch.py" "$work/torch.tsv" --chargpt-steps 300 >>"$work/bench.log" 2>&1 || note "  bench_torch.py: exit $?"
  { echo "# Fluxion"; cat "$work/fluxion.tsv" 2>/dev/null; echo "# PyTorch"; cat "$work/torch.tsv" 2>/dev/null; } >"$bench"
  python3 "$here/bench_compare.py" "$work/fluxion.tsv" "$work/torch.tsv" >"$results/benchmarks.txt" 2>&1
  cat "$results/benchmarks.txt"
  { echo "== benchmarks"; tail -n 40 "$work/bench.log" 2>/dev/null; tail -n 20 "$work/chargpt.log" 2>/dev/null; } >>"$testlog"
fi

# ---------------------------------------------------------------- 6 compute-sanitizer, if time remains
if needs_gpu sanitizer; then
  if [ -z "$sanitizer" ]; then
    note "step sanitizer: NOT POSSIBLE (compute-sanitizer not found)"
  elif step sanitizer 60; then
    for c in dev.fluxion.cuda.CudaFusedTest dev.fluxion.cuda.CudaIndexingTest dev.fluxion.cuda.CudaWindowsTest dev.fluxion.cuda.CudaDropoutTest; do
      l=$(left); [ "$l" -lt 20 ] && break
      echo "== $c" >>"$results/sanitizer.txt"
      timeout --kill-after=5 $((l - 10)) "$sanitizer" --tool memcheck --target-processes all --print-limit 20 "$fx" test "$c" 2>&1 \
        | grep -E '^(=========|gpu tests:)' | tail -n 40 >>"$results/sanitizer.txt"
    done
    grep -E 'ERROR SUMMARY|gpu tests:' "$results/sanitizer.txt" | sed 's/^/  sanitizer: /' | tee -a "$summary"
  fi
fi

step_end=0
tail -c 60000 "$testlog" >"$results/tests.log"
note "done in $(( $(date +%s) - start ))s of ${budget}s; results in $results: $(cd "$results" && ls | tr '\n' ' ')"
if [ -s "$failures" ]; then exit 1; fi
if [ "$incomplete" = 1 ]; then exit 2; fi
exit 0
