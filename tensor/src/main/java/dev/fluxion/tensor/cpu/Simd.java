package dev.fluxion.tensor.cpu;

/**
 * Whether the CPU kernels may use the Vector API ({@code jdk.incubator.vector}). The module is an incubator
 * module: a plain {@code java -cp app.jar Main} does not resolve it, and a class that names {@code FloatVector}
 * then fails to load. So every Vector API use lives in classes ({@link VectorKernels}, {@link VectorMath},
 * {@link VectorAdam}) that are only touched when {@link #ENABLED}; otherwise scalar loops run that compute each
 * element with the same float operations in the same order, so the results are bitwise the same either way.
 * {@code -Dfluxion.vector=false} forces the scalar loops.
 */
final class Simd {
    private Simd() {}

    /** The hint printed (once, on stderr) when the module is absent. */
    static final String HINT = "Fluxion: the Vector API is not enabled, CPU kernels run as scalar loops (same results, slower);"
            + " add --add-modules jdk.incubator.vector to the java command for the fast path.";

    static final boolean ENABLED = probe();

    private static boolean probe() {
        if (!Boolean.parseBoolean(System.getProperty("fluxion.vector", "true"))) return false;
        boolean present = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        if (!present && !NativeKernels.ENABLED) System.err.println(HINT);   // the C kernels make the Vector API a fallback
        return present;
    }
}
