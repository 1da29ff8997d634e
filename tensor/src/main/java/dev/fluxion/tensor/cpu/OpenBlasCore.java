package dev.fluxion.tensor.cpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Which OpenBLAS kernels the CPU backend asks for, decided before OpenBLAS loads. The bytedeco build is
 * DYNAMIC_ARCH: when the library loads it picks kernels by CPU model, unless the environment variable
 * {@code OPENBLAS_CORETYPE} names some.
 *
 * <p>On AMD Zen 4 (family 25 with AVX-512) it picks its AVX-512 "Cooperlake" kernels, but Zen 4 executes a
 * 512-bit operation as two 256-bit halves, and OpenBLAS's AVX2 "Haswell" kernels are faster there: 104 against
 * 98 GFLOP/s for one thread at 1024, and 8-9% less time for Fluxion's 1024 and 2048 products on two cores
 * (measured on a 2-core Zen 4 EPYC). So on that CPU, when {@code OPENBLAS_CORETYPE} is not set, Fluxion sets
 * it to Haswell for its own process. The price: with these kernels a product that {@link Blas#sgemm} splits over
 * the workers can differ in its last bits from one call on the whole (the AVX-512 kernels give the same bits),
 * so results depend on the thread count, as they do with threaded OpenBLAS. {@code -Dfluxion.blas.core=NAME} asks for NAME on any CPU, and
 * {@code -Dfluxion.blas.core=default} leaves the choice to OpenBLAS. Needs the native kernels library (which
 * sets the variable, and loads under {@code -Dfluxion.native=false} too, so the Java kernels get the same GEMMs);
 * without it OpenBLAS chooses.
 */
final class OpenBlasCore {
    private OpenBlasCore() {}

    /** What was asked of OpenBLAS and why, for {@link Blas#config()}; null when nothing was. */
    static final String ASKED = ask();

    private static String ask() {
        String property = System.getProperty("fluxion.blas.core", "auto");
        if (property.equals("default") || System.getenv("OPENBLAS_CORETYPE") != null || !NativeKernels.LOADED) return null;
        String core = property.equals("auto") ? (isZen4() ? "Haswell" : null) : property;
        if (core == null) return null;
        if (!NativeKernels.setEnvIfUnset("OPENBLAS_CORETYPE", core)) return null;
        return property.equals("auto") ? "chosen for AMD Zen 4; -Dfluxion.blas.core=default leaves it to OpenBLAS" : "asked by -Dfluxion.blas.core";
    }

    /** AMD family 25 (Zen 3 and Zen 4) with AVX-512, which only Zen 4 has, from /proc/cpuinfo's first processor. */
    static boolean isZen4() {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/cpuinfo"));
            boolean amd = false, family25 = false, avx512 = false;
            for (String line : lines) {
                if (line.isBlank()) break;                       // the first processor's block ends
                int colon = line.indexOf(':');
                if (colon < 0) continue;
                String key = line.substring(0, colon).trim(), value = line.substring(colon + 1).trim();
                switch (key) {
                    case "vendor_id" -> amd = value.equals("AuthenticAMD");
                    case "cpu family" -> family25 = value.equals("25");
                    case "flags" -> avx512 = (" " + value + " ").contains(" avx512f ");
                    default -> { }
                }
            }
            return amd && family25 && avx512;
        } catch (IOException | RuntimeException e) {
            return false;                                        // not Linux, or unreadable: leave OpenBLAS to choose
        }
    }
}
