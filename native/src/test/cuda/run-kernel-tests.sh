#!/usr/bin/env bash
# Builds and runs the CPU tests of the CUDA kernels: kernel_tests.cpp with cudasim.h compiles every .cu file of
# src/main/cuda unchanged as host C++ (g++). Run by Maven in the test phase (native/pom.xml); see native/README.md.
#
# Usage: run-kernel-tests.sh WORK_DIR [FATBIN_KERNEL_LIST]
#   WORK_DIR: where binaries and logs go (kept between runs; rebuilt only when a source changes)
#   FATBIN_KERNEL_LIST: kernels.txt written by build-kernels.sh next to the fatbin; when present, the entry points
#   that g++ sees must equal those nvcc put in the fatbin.
# Runs: in order, seeded random order (FLUXION_KERNEL_TESTS_SEED, default 1234), AddressSanitizer (reverse order, --quick); then four planted
# bugs, each of which must make the tests fail. Without g++ or CUDA's headers it prints why and skips.
set -euo pipefail
work=${1:?usage: run-kernel-tests.sh WORK_DIR [FATBIN_KERNEL_LIST]}
fatbinList=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../main/cuda" && pwd)
cxx=${CXX:-g++}
say() { echo "[fluxion-native] $*"; }

if ! command -v "$cxx" >/dev/null 2>&1; then
  say "no C++ compiler ($cxx; set CXX): CPU tests of the CUDA kernels SKIPPED"
  exit 0
fi
inc=""
nvcc=$(command -v nvcc 2>/dev/null || true)
for d in "${CUDA_HOME:-/nonexistent}/include" /usr/local/cuda/include ${nvcc:+"$(dirname "$(readlink -f "$nvcc")")/../include"}; do
  [ -z "$inc" ] && [ -f "$d/cuda_fp16.h" ] && inc=$d
done
if [ -z "$inc" ]; then
  say "cuda_fp16.h not found (CUDA_HOME, /usr/local/cuda, next to nvcc): CPU tests of the CUDA kernels SKIPPED"
  exit 0
fi

start=$(date +%s)
mkdir -p "$work"
work=$(cd "$work" && pwd)
flags=(-std=c++17 -O0 -g0 -w -I"$here" -I"$inc")

# build NAME DIR FILES FLAGS..: $work/NAME/kernel_tests over the kernel files FILES (a glob) of DIR (skipped when up to date)
build() {
  local name=$1 dir=$2 files=$3; shift 3
  mkdir -p "$work/$name"
  local bin=$work/$name/kernel_tests f
  for f in "$dir"/$files; do printf '#include "%s"\n#define FX_HAS_%s 1\n' "$f" "$(basename "$f" .cu)"; done > "$work/$name/kernels.inc.new"
  if [ -x "$bin" ] && cmp -s "$work/$name/kernels.inc.new" "$work/$name/kernels.inc" \
     && [ -z "$(find "$dir" "$here" -newer "$bin" -type f 2>/dev/null | head -n 1)" ]; then
    rm "$work/$name/kernels.inc.new"
    return 0
  fi
  mv "$work/$name/kernels.inc.new" "$work/$name/kernels.inc"
  "$cxx" "${flags[@]}" -I"$work/$name" "$@" "$here/kernel_tests.cpp" -o "$bin.tmp" > "$work/$name/build.log" 2>&1 \
    || { cat "$work/$name/build.log"; say "$name: the CPU kernel tests do not compile"; return 1; }
  mv "$bin.tmp" "$bin"
}

# A copy of the kernel sources with one planted bug: plant NAME FILE PERL_SUBSTITUTION
plant() {
  local name=$1 file=$2 subst=$3 dir=$work/$1/src
  mkdir -p "$dir"
  cp -p "$src"/*.cu "$src"/*.cuh "$dir"/
  perl -0pi -e "$subst" "$dir/$file"
  if cmp -s "$src/$file" "$dir/$file"; then
    say "planted bug '$name' no longer applies to $file: update plant() in $0"
    return 1
  fi
  touch -r "$src/$file" "$dir/$file"    # keep the cached binary valid while the real source is unchanged
}
plant nosync common.cuh 's/(if \(lane == 0\) scratch\[warp\] = v;\n)\s*__syncthreads\(\);\n/$1/'
plant halfwarp common.cuh 's/(for \(int o = 16; o > 0; o >>= 1\)) (v \+= __shfl_xor_sync)/$1 if ((threadIdx.x & 31) < 16) $2/'
# the "obvious" NaN fix alone (NaN kept in the running max, but the merge's max drops it): rows shorter than a warp fail
plant nanmerge rowstats.cuh 's/\n\s*if \(a\.m != a\.m \|\| b\.m != b\.m\) \{ r\.m = NAN; r\.s = NAN; return r; \}//; s/(r\.s = \(a\.m == -INFINITY.*\n)/$1    if (a.m != a.m || b.m != b.m) r.s = NAN;\n/'
plant offbyone softmax.cu 's/j < cols; j \+= blockDim.x\)\n(\s*acc \+= log)/j <= cols; j += blockDim.x)\n$1/'

# the entry points of the sources, as g++ sees them (the test program fails unless it launched exactly these)
"$cxx" -E -DCUDASIM_LIST "${flags[@]}" -include cudasim.h -x c++ <(for f in "$src"/*.cu; do echo "#include \"$f\""; done) \
  | grep -oE '__cudasim_entry__ void fx_[A-Za-z0-9_]+' | awk '{print $NF}' | sort -u > "$work/kernels.txt"
if [ -n "$fatbinList" ] && [ -f "$fatbinList" ] && ! diff <(sort -u "$fatbinList") "$work/kernels.txt" > "$work/kernels.diff"; then
  cat "$work/kernels.diff"
  say "the fatbin's entry points ($fatbinList, <) differ from those g++ compiles (>)"
  exit 1
fi

# two builds at a time (2 cores): the real kernels plain and with AddressSanitizer, then the planted bugs
asan=(-fsanitize=address -fno-omit-frame-pointer)
pids=()
build plain "$src" '*.cu' & pids+=($!)
build asan "$src" '*.cu' "${asan[@]}" & pids+=($!)
for p in "${pids[@]}"; do wait "$p" || exit 1; done
pids=()
build nosync "$work/nosync/src" norm.cu & pids+=($!)
build halfwarp "$work/halfwarp/src" norm.cu & pids+=($!)
for p in "${pids[@]}"; do wait "$p" || exit 1; done
pids=()
build nanmerge "$work/nanmerge/src" softmax.cu & pids+=($!)
build offbyone "$work/offbyone/src" softmax.cu "${asan[@]}" & pids+=($!)
for p in "${pids[@]}"; do wait "$p" || exit 1; done
built=$(date +%s)

seed=${FLUXION_KERNEL_TESTS_SEED:-1234}
status=0
runOne() {   # runOne LABEL BINARY ARGS...
  local label=$1; shift
  local t0; t0=$(date +%s%N)
  if "$@" > "$work/$label.log" 2>&1; then
    say "$label: $(tail -n 1 "$work/$label.log") ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
  else
    grep -E '^FAIL|ERROR|deadlock' "$work/$label.log" | head -n 40 || true
    tail -n 1 "$work/$label.log"
    say "$label: FAILED (log: $work/$label.log)"
    return 1
  fi
}
# the AddressSanitizer run (the longest) beside the other two
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} runOne "address-sanitizer" "$work/asan/kernel_tests" --order reverse --quick --kernels "$work/kernels.txt" &
asanPid=$!
runOne "in-order" "$work/plain/kernel_tests" --order in --kernels "$work/kernels.txt" || status=1
runOne "random-order-seed-$seed" "$work/plain/kernel_tests" --order random --seed "$seed" --kernels "$work/kernels.txt" || status=1
wait "$asanPid" || status=1

# each planted bug must be caught, by the message that names it
expectCaught() {   # expectCaught NAME PATTERN BINARY ARGS...
  local name=$1 pattern=$2; shift 2
  if "$@" > "$work/$name.log" 2>&1; then
    say "planted bug '$name' was NOT caught (log: $work/$name.log)"; status=1
  elif grep -qE "$pattern" "$work/$name.log"; then
    say "planted bug '$name' caught: $(grep -m 1 -oE "$pattern.{0,90}" "$work/$name.log")"
  else
    tail -n 20 "$work/$name.log"
    say "planted bug '$name' failed the tests, but not with /$pattern/ (log: $work/$name.log)"; status=1
  fi
}
expectCaught nosync "FAIL norm/" "$work/nosync/kernel_tests" --order random --seed "$seed" --only norm
expectCaught halfwarp "deadlock" "$work/halfwarp/kernel_tests" --only norm
expectCaught nanmerge "FAIL softmax/.*columns" "$work/nanmerge/kernel_tests" --only softmax
ASAN_OPTIONS=detect_leaks=0 expectCaught offbyone "heap-buffer-overflow" "$work/offbyone/kernel_tests" --only softmax

say "CPU tests of the CUDA kernels: $( [ $status = 0 ] && echo passed || echo FAILED ) in $(( $(date +%s) - start )) s (builds $(( built - start )) s)"
exit $status
