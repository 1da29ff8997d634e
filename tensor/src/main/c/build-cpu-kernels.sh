#!/usr/bin/env bash
# Builds libfluxion_cpu.so, the native float32 CPU kernels (fluxion_cpu.c), into OUTPUT_DIR/linux-x86_64/.
# Run by Maven (tensor/pom.xml, generate-resources) on Unix hosts.
#
# Usage: build-cpu-kernels.sh OUTPUT_DIR
#
# gcc runs only when the sources changed: prebuilt/ holds the library built from the sources whose SHA-256 is
# in prebuilt/sources.sha256 (checked into the repository, so a machine without gcc still gets the kernels).
# When the hash of fluxion_cpu.c and this script matches, the prebuilt library is copied and gcc is not
# touched. When it does not (the source was edited), gcc rebuilds it and refreshes prebuilt/: commit prebuilt/
# with the change. Changed sources and no gcc: one line, and the jar carries no library (never a stale one);
# the CPU backend then runs its Java kernels, which give the same bits. FLUXION_CPU_KERNELS_REBUILD=1 forces gcc.
set -euo pipefail
out=${1:?usage: build-cpu-kernels.sh OUTPUT_DIR}
src=$(cd "$(dirname "$0")" && pwd)
prebuilt="$src/prebuilt/linux-x86_64"
lib="$out/linux-x86_64/libfluxion_cpu.so"

hash=$( (cd "$src" && for f in fluxion_cpu.c build-cpu-kernels.sh; do echo "== $f"; cat "$f"; done) | sha256sum | cut -d' ' -f1)
mkdir -p "$(dirname "$lib")"
echo "$hash" > "$out/linux-x86_64/sources.sha256"
[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || { rm -f "$lib"; echo "[fluxion-tensor] native CPU kernels are built for linux-x86_64 only; this host runs the Java kernels"; exit 0; }

if [ -z "${FLUXION_CPU_KERNELS_REBUILD:-}" ] && [ -f "$prebuilt/libfluxion_cpu.so" ] \
   && [ "$(cat "$prebuilt/sources.sha256" 2>/dev/null)" = "$hash" ]; then
  cp "$prebuilt/libfluxion_cpu.so" "$lib"
  exit 0
fi

cc=$(command -v gcc 2>/dev/null || true)
javac=$(command -v javac 2>/dev/null || true)
jdk=${JAVA_HOME:-$( [ -n "$javac" ] && dirname "$(dirname "$(readlink -f "$javac")")" || true)}
if [ -z "$cc" ] || [ ! -f "$jdk/include/jni.h" ]; then
  rm -f "$lib"
  echo "[fluxion-tensor] fluxion_cpu.c changed since tensor/src/main/c/prebuilt was built and gcc or the JDK's jni.h is missing: native CPU kernels NOT built; the CPU backend runs its Java kernels (same results, slower)"
  exit 0
fi
# -ffp-contract=off: no fused multiply-add the Java code does not write (bitwise equal results); no -ffast-math.
# -fno-trapping-math: selects may compute both sides (no FP exception is ever observed, values are unchanged);
# without it gcc leaves the exp/tanh loops scalar on AVX2 (4.4 instead of 1.0 ns per element).
"$cc" -O3 -std=c11 -fPIC -shared -ffp-contract=off -fno-math-errno -fno-trapping-math -fvisibility=hidden \
  -I"$jdk/include" -I"$jdk/include/linux" -DFLUXION_SOURCES_HASH="\"$hash\"" \
  -Wall -Wextra -Wno-unused-parameter -o "$lib" "$src/fluxion_cpu.c" -lm
mkdir -p "$prebuilt"
cp "$lib" "$prebuilt/libfluxion_cpu.so"
echo "$hash" > "$prebuilt/sources.sha256"
echo "[fluxion-tensor] built $(basename "$lib") with $("$cc" --version | head -1); commit tensor/src/main/c/prebuilt/"
