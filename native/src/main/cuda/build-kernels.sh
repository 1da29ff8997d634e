#!/usr/bin/env bash
# Compiles every .cu file in this folder into ONE fatbin for the CUDA backend: SASS for sm_80 and sm_90, plus
# compute_90 PTX that newer GPUs JIT-compile. sm_80 SASS also runs on sm_86 and sm_89 (same major version), so the
# fatbin carries no separate 8.6/8.9 builds: they would make it 40% larger (it travels to a GPU host twice, in the
# repository and in the bundle's jar, within a 64 MiB transfer) for at most the tuning of those two GPUs.
# Run by Maven (native/pom.xml, generate-resources).
#
# Usage: build-kernels.sh OUTPUT.fatbin
#
# nvcc runs only when the sources changed: prebuilt/ holds the fatbin built from the sources whose SHA-256 is in
# prebuilt/sources.sha256 (checked into the repository, so a CPU-only build, or a GPU host with no nvcc, still
# gets working kernels). When the hash of the .cu/.cuh files, this script and the arch list matches, the
# prebuilt fatbin is copied to OUTPUT and nvcc is not touched. When it does not (a kernel was edited), nvcc
# rebuilds the fatbin, writes it to OUTPUT and refreshes prebuilt/: commit prebuilt/ with the kernel change.
# FLUXION_KERNELS_REBUILD=1 forces nvcc.
#
# Finds nvcc through $NVCC (only there, when set), else PATH, $CUDA_HOME/bin and /usr/local/cuda/bin. Without nvcc
# and with changed sources it prints one line and succeeds: the jar then has no kernels (not stale ones) and the
# CUDA backend says so when it starts.
# FLUXION_CUDA_ARCHS overrides the -gencode list (e.g. "-gencode arch=compute_90,code=sm_90" for a quick build);
# prebuilt/ is only refreshed for the default list.
set -euo pipefail
out=${1:?usage: build-kernels.sh OUTPUT.fatbin}
src=$(cd "$(dirname "$0")" && pwd)
prebuilt="$src/prebuilt"
default_archs="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]"
archs=${FLUXION_CUDA_ARCHS:-$default_archs}

# The kernels' identity: every source file (name and bytes, in name order), this script and the arch list.
sources_hash() {
  (cd "$src" && for f in $(ls *.cu *.cuh | LC_ALL=C sort) build-kernels.sh; do echo "== $f"; cat "$f"; done; echo "== archs $archs") \
    | sha256sum | cut -d' ' -f1
}
hash=$(sources_hash)
mkdir -p "$(dirname "$out")"
if [ -z "${FLUXION_KERNELS_REBUILD:-}" ] && [ -f "$prebuilt/kernels.fatbin" ] && [ -f "$prebuilt/kernels.txt" ] \
   && [ "$(cat "$prebuilt/sources.sha256" 2>/dev/null)" = "$hash" ]; then
  cp "$prebuilt/kernels.fatbin" "$out"
  cp "$prebuilt/kernels.txt" "${out%.fatbin}.txt"
  echo "[fluxion-native] kernels: the prebuilt fatbin matches the sources (no nvcc needed)"
  exit 0
fi

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
  rm -f "$out" "${out%.fatbin}.txt"
  echo "[fluxion-native] the kernel sources changed since native/src/main/cuda/prebuilt was built and nvcc is not found (set NVCC, CUDA_HOME or PATH): CUDA kernels NOT built; the jar works, the CUDA backend will report missing kernels"
  exit 0
fi

sources=$(ls "$src"/*.cu)
stamp="${out%.fatbin}.sha256"                # the hash OUTPUT was built from (a FLUXION_CUDA_ARCHS build is not prebuilt)
if [ -z "${FLUXION_KERNELS_REBUILD:-}" ] && [ -f "$out" ] && [ -f "${out%.fatbin}.txt" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
  echo "[fluxion-native] $(basename "$out") is up to date"
  exit 0
fi

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
echo "$hash" > "$stamp"
echo "[fluxion-native] built $(basename "$out") ($(( $(stat -c %s "$out") / 1024 )) KiB) in $(( $(date +%s) - start )) s"
if [ "$archs" = "$default_archs" ]; then
  mkdir -p "$prebuilt"
  cp "$out" "$prebuilt/kernels.fatbin"
  cp "${out%.fatbin}.txt" "$prebuilt/kernels.txt"
  echo "$hash" > "$prebuilt/sources.sha256"
  echo "[fluxion-native] refreshed native/src/main/cuda/prebuilt: commit it with the kernel sources"
fi
