#!/usr/bin/env bash
# Builds a self-contained folder for running Fluxion's CUDA checks on a GPU host that has no JDK or Maven:
#   runtime/            a jlink Java runtime (only the modules Fluxion loads)
#   lib/                the jars of tensor, autodiff, nn, optim, parallel, native, examples and their libraries
#                       (JNI libraries the JVM never loads are stripped: OpenBLAS's LAPACK builds, CUDA's NPP, cuFFT, ...)
#   test/               the native and parallel test classes and the JUnit Platform jars (GpuTestMain drives the launcher)
#   bin/cuda-lib-path   finds the host's CUDA 13 libraries (the repository's bin/cuda-lib-path)
#   bin/fluxion-gpu     the launcher: doctor | test | bench | run MAIN [ARGS]
# The host still needs the NVIDIA driver and the CUDA 13 libraries (cuBLAS etc.: toolkit or pip wheels).
#
# Builds OFFLINE (mvn -o) from the local Maven repository: every jar it needs is a dependency of the build itself.
# What travels to a GPU host is the repository's files plus this folder, 64 MiB in all: the script adds both up
# and fails above the budget (FLUXION_TRANSFER_MIB, default 62: 2 MiB of headroom for files written later).
#
# Usage (from anywhere in the repository): native/src/main/bundle/make-bundle.sh [OUTPUT_DIR]   (default .bundle/fluxion-gpu)
# Env: JAVA_HOME picks the JDK for the build and jlink (else `java` on PATH).
set -euo pipefail
root=$(cd "$(dirname "$0")/../../../.." && pwd)
out=${1:-$root/.bundle/fluxion-gpu}
budget_mib=${FLUXION_TRANSFER_MIB:-62}
modules=tensor,autodiff,nn,optim,parallel,native,examples

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/test"

echo "make-bundle: building $modules offline (tests compiled, not run); libraries from the local repository"
# package writes examples/target/classpath.txt (the runtime class path: every module and its libraries)
(cd "$root" && mvn -B -o -q -pl "$modules" -am -DskipTests -Dfluxion.largeTests.skip=true package)
{ tr ':' '\n' < "$root/examples/target/classpath.txt"; echo; } | while read -r j; do [ -n "$j" ] && cp "$j" "$out/lib/"; done
[ -n "$(ls "$out"/lib/)" ] || { echo "make-bundle: examples/target/classpath.txt lists no jars" >&2; exit 1; }
# the JUnit Platform jars the tests need (a second run: the filter would also apply to the examples' class-path file)
(cd "$root" && mvn -B -o -q -pl native -am -DskipTests -Dfluxion.largeTests.skip=true package \
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies -DincludeScope=test \
    -DincludeGroupIds=org.junit.platform,org.junit.jupiter,org.opentest4j,org.apiguardian -DoutputDirectory="$out/test")
ex=$(ls "$root"/examples/target/fluxion-examples-*.jar | grep -Ev -- '-(sources|javadoc|tests)\.jar$' | head -n 1)
[ -n "$ex" ] || { echo "make-bundle: no examples jar (build failed?)" >&2; exit 1; }
cp "$ex" "$out/lib/"
jar --create --file "$out/test/fluxion-native-tests.jar" -C "$root/native/target/test-classes" .
jar --create --file "$out/test/fluxion-parallel-tests.jar" -C "$root/parallel/target/test-classes" dev/fluxion/parallel/nccl

# Strip what the JVM never loads. The CPU backend uses only OpenBLAS's nolapack JNI library (and no C headers);
# the CUDA backend only the runtime/driver, cuBLAS, cuDNN, NCCL and NVRTC glue (the Java classes stay: the presets
# inherit each other's, and they are small).
ob=$(ls "$out"/lib/openblas-*-linux-x86_64.jar)
zip -q -d "$ob" 'org/bytedeco/openblas/linux-x86_64/libjniopenblas.so' 'org/bytedeco/openblas/linux-x86_64/libjniopenblas_full.so' \
  'org/bytedeco/openblas/linux-x86_64/include/*'
cu=$(ls "$out"/lib/cuda-*-linux-x86_64.jar)
keep='libjni(cudart|cublas|cudnn|nccl|nvrtc)\.so$'
drop=$(unzip -Z1 "$cu" | grep -E '^org/bytedeco/cuda/linux-x86_64/libjni.*\.so$' | grep -Ev "$keep" || true)
# shellcheck disable=SC2086
[ -z "$drop" ] || zip -q -d "$cu" $drop

# The runtime: the JDK that ran the build (its bytecode level), only the modules Fluxion and JUnit load.
jdk=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
echo "make-bundle: jlink runtime from $jdk"
# jdeps of the jars, plus jdk.zipfs (JUnit scans the test jars for a package); not java.desktop (LossPlot's PNG: the GPU
# run writes none; 14 MiB)
mods=java.base,java.logging,java.management,jdk.unsupported,jdk.incubator.vector,jdk.zipfs
"$jdk/bin/jlink" --add-modules "$mods" --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$out/runtime" >/dev/null 2>&1 \
  || "$jdk/bin/jlink" --add-modules "$mods" --strip-debug --no-header-files --no-man-pages --compress=2 --output "$out/runtime"
rm -rf "$out/runtime/legal"
if command -v strip >/dev/null; then find "$out/runtime" -name '*.so' -exec strip --strip-unneeded {} \; ; fi   # symbols: ~4 MiB of libjvm.so
cp "$root/bin/cuda-lib-path" "$out/bin/cuda-lib-path"

cat > "$out/bin/fluxion-gpu" <<'LAUNCHER'
#!/bin/sh
# Fluxion GPU bundle launcher.
#   fluxion-gpu doctor [--require-gpu]    the environment check (default)
#   fluxion-gpu test [CLASS|PACKAGE...]   gpu-tagged tests (default: package dev.fluxion.cuda); exits 1 when one
#                                         failed, 3 when none ran (all skipped: no GPU); --report FILE appends counts
#   fluxion-gpu bench [ARGS]              kernel and GEMM throughput table (dev.fluxion.cuda.CudaBench)
#   fluxion-gpu run MAIN [ARGS]           any main class on the bundle's class path (e.g. dev.fluxion.examples.CharGpt)
# LD_LIBRARY_PATH gets the CUDA library folders bin/cuda-lib-path finds (toolkit, distribution packages, pip wheels).
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
found=$("$here/bin/cuda-lib-path" 2>/dev/null || true)
if [ -n "$found" ]; then export LD_LIBRARY_PATH="$found${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
java="$here/runtime/bin/java"
cp=$(ls "$here"/lib/*.jar | tr '\n' ':')
tcp=$(ls "$here"/test/*.jar | tr '\n' ':')
flags="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED ${FLUXION_GPU_JAVA_OPTS:--Xmx8g}"
cmd=${1:-doctor}
[ $# -gt 0 ] && shift
case "$cmd" in
  doctor) exec "$java" $flags -cp "$cp" dev.fluxion.cuda.Doctor "$@" ;;
  test)   exec "$java" $flags -cp "$cp$tcp" dev.fluxion.cuda.GpuTestMain "$@" ;;
  bench)  exec "$java" $flags -cp "$cp$tcp" dev.fluxion.cuda.CudaBench "$@" ;;
  run)    main=${1:?usage: fluxion-gpu run MAIN [ARGS]}; shift
          exec "$java" $flags -cp "$cp$tcp" "$main" "$@" ;;
  *)      echo "usage: fluxion-gpu [doctor [--require-gpu] | test [--report FILE] [CLASS|PACKAGE...] | bench | run MAIN [ARGS]]" >&2; exit 2 ;;
esac
LAUNCHER
chmod +x "$out/bin/fluxion-gpu" "$out/bin/cuda-lib-path"

# The whole transfer: the repository's files that travel (tracked, and untracked ones git does not ignore) + the bundle.
tree_bytes=$(cd "$root" && git ls-files -z -co --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
bundle_bytes=$(find "$out" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
total=$((tree_bytes + bundle_bytes))
mib() { awk -v b="$1" 'BEGIN {printf "%.2f", b / 1048576}'; }
echo "make-bundle: $out is $(mib "$bundle_bytes") MiB; with the repository's files ($(mib "$tree_bytes") MiB) the transfer is $(mib "$total") MiB (budget $budget_mib of 64)"
if [ "$total" -gt $((budget_mib * 1048576)) ]; then
  echo "make-bundle: the transfer is over the $budget_mib MiB budget: strip more, or carry less" >&2
  exit 1
fi
