#!/usr/bin/env bash
# Compiles every .cu file in this folder into ONE fatbin for the CUDA backend: SASS for sm_80, sm_86, sm_89
# and sm_90, plus compute_90 PTX that newer GPUs JIT-compile. Run by Maven (native/pom.xml, generate-resources).
#
# Usage: build-kernels.sh OUTPUT.fatbin
# Finds nvcc through $NVCC (only there, when set), else PATH, $CUDA_HOME/bin and /usr/local/cuda/bin. Without nvcc it prints one
# line and succeeds: the jar then has no kernels and the CUDA backend says so when it starts.
# FLUXION_CUDA_ARCHS overrides the -gencode list (e.g. "-gencode arch=compute_90,code=sm_90" for a quick build).
set -euo pipefail
out=${1:?usage: build-kernels.sh OUTPUT.fatbin}
src=$(cd "$(dirname "$0")" && pwd)

if [ -n "${NVCC:-}" ]; then
  nvcc=$NVCC                              # explicit choice: used as given (a missing file means "no nvcc")
  [ -x "$nvcc" ] || nvcc=""
else
  nvcc=$(command -v nvcc 2>/dev/null || true)
  for c in "${CUDA_HOME:-}/bin/nvcc" /usr/local/cuda/bin/nvcc; do
    [ -n "$nvcc" ] || { [ -x "$c" ] && nvcc=$c; } || true
  done
fi
if [ -z "$nvcc" ]; then
  echo "[fluxion-native] nvcc not found (set NVCC, CUDA_HOME or PATH): CUDA kernels NOT built; the jar works, the CUDA backend will report missing kernels"
  exit 0
fi

sources=$(ls "$src"/*.cu)
newest=$(ls -t "$src"/*.cu "$src"/*.cuh "$0" | head -n 1)
if [ -f "$out" ] && [ -f "${out%.fatbin}.txt" ] && [ "$out" -nt "$newest" ]; then
  echo "[fluxion-native] $(basename "$out") is up to date"
  exit 0
fi

archs=${FLUXION_CUDA_ARCHS:-"-gencode arch=compute_80,code=sm_80 -gencode arch=compute_86,code=sm_86 -gencode arch=compute_89,code=sm_89 -gencode arch=compute_90,code=[sm_90,compute_90]"}
mkdir -p "$(dirname "$out")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# One translation unit that includes every kernel file, so that a single fatbin (one cuModuleLoadData)
# holds all entry points. Each file is also a standalone unit; extern "C" names are unique across files.
for f in $sources; do echo "#include \"$f\""; done > "$work/fluxion_kernels.cu"

echo "[fluxion-native] $("$nvcc" --version | tail -n 1 | sed 's/^Build //'): compiling $(echo "$sources" | wc -w) kernel files -> $out"
start=$(date +%s)
# --compress-mode=size: ~10x smaller than the default compression; with CUDA 13 it needs driver 580+, which the
# CUDA 13 runtime needs anyway (rapids-cmake documents the same requirement for its fatbin compression modes).
compress=${FLUXION_CUDA_COMPRESS:-size}
# shellcheck disable=SC2086
"$nvcc" -fatbin -std=c++17 -O3 --threads 0 --compress-mode="$compress" -I"$src" $archs -o "$work/kernels.fatbin" "$work/fluxion_kernels.cu"
# The entry points, one per line, for KernelNamesTest (which checks every name the Java side launches exists).
"$nvcc" -E -std=c++17 -I"$src" -arch=sm_90 "$work/fluxion_kernels.cu" 2>/dev/null \
  | grep -oE '(__global__|__attribute__\(\(global\)\)) void fx_[A-Za-z0-9_]+' | awk '{print $NF}' | sort -u > "$work/kernels.txt"
mv "$work/kernels.txt" "${out%.fatbin}.txt"
mv "$work/kernels.fatbin" "$out"
echo "[fluxion-native] built $(basename "$out") ($(( $(stat -c %s "$out") / 1024 )) KiB) in $(( $(date +%s) - start )) s"
