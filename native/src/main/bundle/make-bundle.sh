#!/usr/bin/env bash
# Builds a self-contained folder for running Fluxion's CUDA checks on a GPU host that has no JDK or Maven:
#   runtime/            a jlink Java runtime (tools/jre-bundle)
#   lib/                fluxion-tensor, -native, -autodiff, -nn, -optim and their dependency jars (JavaCPP, OpenBLAS, CUDA presets, Jackson)
#   test/               the native test classes and junit-platform-console-standalone
#   bin/cuda-lib-path   finds the host's CUDA 13 libraries (the repository's bin/cuda-lib-path)
#   bin/fluxion-gpu     the launcher: doctor | test | bench | run MAIN [ARGS]
# The host still needs the NVIDIA driver and the CUDA 13 libraries (cuBLAS etc.: toolkit or pip wheels).
#
# Usage (from anywhere in the repository): native/src/main/bundle/make-bundle.sh [OUTPUT_DIR]   (default .bundle/fluxion-gpu)
# Env: FLUXION_TOOLS (default: the shared/tools folder beside the repository) holds jre-bundle; JAVA_HOME picks the JDK for jlink.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../../.." && pwd)
out=${1:-$root/.bundle/fluxion-gpu}
tools=${FLUXION_TOOLS:-$root/../shared/tools}
junit_console=org.junit.platform:junit-platform-console-standalone:1.11.4
limit_mib=64

for t in jre-bundle; do
  [ -x "$tools/$t" ] || { echo "make-bundle: $tools/$t not found (set FLUXION_TOOLS)" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/test"

echo "make-bundle: building fluxion-tensor, -native and the modules the GPT-on-GPU tests train with (tests compiled, not run)"
(cd "$root" && mvn -B -q -pl tensor,autodiff,nn,optim,native -DskipTests package dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$out/lib")
for m in native autodiff nn optim; do cp "$root/$m/target/fluxion-$m-"*.jar "$out/lib/"; done
(cd "$root" && mvn -B -q -N dependency:copy -Dartifact="$junit_console" -DoutputDirectory="$out/test")
mv "$out/test/junit-platform-console-standalone-"*.jar "$out/test/junit-platform-console-standalone.jar"
jar --create --file "$out/test/fluxion-native-tests.jar" -C "$root/native/target/test-classes" .

# Slim the native jars to what Fluxion loads: the CPU backend uses only OpenBLAS's nolapack JNI library, the CUDA
# backend only the runtime/driver, cuBLAS, cuDNN, NCCL and NVRTC glue (this keeps the bundle under $limit_mib MiB).
ob=$(ls "$out"/lib/openblas-*-linux-x86_64.jar)
zip -q -d "$ob" 'org/bytedeco/openblas/linux-x86_64/libjniopenblas.so' 'org/bytedeco/openblas/linux-x86_64/libjniopenblas_full.so'
cu=$(ls "$out"/lib/cuda-*-linux-x86_64.jar)
keep='libjni(cudart|cublas|cudnn|nccl|nvrtc)\.so$'
drop=$(unzip -Z1 "$cu" | grep -E '^org/bytedeco/cuda/linux-x86_64/libjni.*\.so$' | grep -Ev "$keep" || true)
# shellcheck disable=SC2086
[ -z "$drop" ] || zip -q -d "$cu" $drop

# The runtime comes from the JDK that runs the build (JAVA_HOME, else `java` on PATH): the bytecode targets it,
# and a Java 17 runtime is ~10 MiB smaller than a Java 25 one.
jdk=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}
echo "make-bundle: jlink runtime from $jdk"
JAVA_HOME=$jdk "$tools/jre-bundle" "$out/runtime" >"$out/jlink.log" 2>&1 || { cat "$out/jlink.log" >&2; exit 1; }
rm -f "$out/jlink.log"
cp "$root/bin/cuda-lib-path" "$out/bin/cuda-lib-path"

cat > "$out/bin/fluxion-gpu" <<'LAUNCHER'
#!/bin/sh
# Fluxion GPU bundle launcher.
#   fluxion-gpu doctor [--require-gpu]   the environment check (default)
#   fluxion-gpu test [JUNIT OPTIONS]      the gpu-tagged tests of fluxion-native (JUnit console launcher)
#   fluxion-gpu bench [ARGS]              kernel and GEMM throughput table (dev.fluxion.cuda.CudaBench)
#   fluxion-gpu run MAIN [ARGS]           any main class on the bundle's class path
# LD_LIBRARY_PATH gets the CUDA library folders bin/cuda-lib-path finds (toolkit, distribution packages, pip wheels).
set -e
here=$(cd "$(dirname "$0")/.." && pwd)
found=$("$here/bin/cuda-lib-path" 2>/dev/null || true)
if [ -n "$found" ]; then export LD_LIBRARY_PATH="$found${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; fi
java="$here/runtime/bin/java"
cp=$(ls "$here"/lib/*.jar | tr '\n' ':')
flags="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx4g"
cmd=${1:-doctor}
[ $# -gt 0 ] && shift
case "$cmd" in
  doctor) exec "$java" $flags -cp "$cp" dev.fluxion.cuda.Doctor "$@" ;;
  test)   exec "$java" $flags -jar "$here/test/junit-platform-console-standalone.jar" execute \
            --class-path "$cp$here/test/fluxion-native-tests.jar" --select-package dev.fluxion.cuda --include-tag gpu \
            --details tree --disable-banner "$@" ;;
  bench)  exec "$java" $flags -cp "$cp$here/test/fluxion-native-tests.jar" dev.fluxion.cuda.CudaBench "$@" ;;
  run)    main=${1:?usage: fluxion-gpu run MAIN [ARGS]}; shift
          exec "$java" $flags -cp "$cp$here/test/fluxion-native-tests.jar" "$main" "$@" ;;
  *)      echo "usage: fluxion-gpu [doctor [--require-gpu] | test [junit options] | bench | run MAIN [ARGS]]" >&2; exit 2 ;;
esac
LAUNCHER
chmod +x "$out/bin/fluxion-gpu" "$out/bin/cuda-lib-path"

size_mib=$(( $(du -sk "$out" | cut -f1) / 1024 ))
echo "make-bundle: $out is $size_mib MiB"
if [ "$size_mib" -ge "$limit_mib" ]; then echo "make-bundle: over the $limit_mib MiB budget" >&2; exit 1; fi
