package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.UnaryOp;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hot kernels must run as SIMD code, allocating nothing, once warm. When C2 fails to
 * inline part of a kernel (a callee too big, an inlining budget spent), every FloatVector becomes a heap
 * object: the kernel then allocates several times its data per call and runs element by element (seen:
 * 330 MB of float[] per GPT step). So: warm each kernel up, then count the bytes the calling thread
 * allocates over a batch of calls; compiled SIMD code allocates none. Warm-up goes on until the batch
 * allocates nothing or a generous deadline passes (C2 compiles in the background on a loaded machine).
 *
 * <p>It checks the kernels as they run by default: the C library ({@link NativeKernels}) on linux-x86_64. The
 * Vector API bodies alone do not pass it reliably on JDK 17: in some JVM runs C2 leaves several of them boxed for
 * good (TANH, GELU, SIGMOID, SILU and their gradients allocated 12-188 KB per call in one of four CI runs), which
 * is why the hot kernels moved to C; on other platforms the test is skipped.
 */
class KernelAllocationTest {
    private static final int N = Scratch.CHUNK, BATCH = 2000;
    private static final long DEADLINE_NS = 30_000_000_000L;
    /** Per call; the measuring itself allocates a few bytes per batch, a boxing kernel allocates kilobytes per call. */
    private static final long LIMIT = 16;
    private static final com.sun.management.ThreadMXBean THREADS = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** Bytes per call allocated by the last batch of calls once warm (0 expected), per kernel. */
    private static long steadyAllocation(Runnable kernel) {
        long start = System.nanoTime(), perCall = Long.MAX_VALUE;
        while (perCall > LIMIT && System.nanoTime() - start < DEADLINE_NS) {
            long before = THREADS.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < BATCH; i++) kernel.run();
            perCall = (THREADS.getCurrentThreadAllocatedBytes() - before) / BATCH;
        }
        return perCall;
    }

    @Test void hotKernelsAllocateNothingOnceCompiled() {
        Assumptions.assumeTrue(NativeKernels.ENABLED, "no native CPU kernels on this platform");
        float[] x = new float[N], y = new float[N], z = new float[N];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < N; i++) { x[i] = (float) r.nextGaussian() * 3; z[i] = (float) r.nextGaussian(); }
        Map<String, Runnable> kernels = new LinkedHashMap<>();
        for (UnaryOp op : new UnaryOp[] {UnaryOp.EXP, UnaryOp.TANH, UnaryOp.GELU, UnaryOp.GELU_TANH, UnaryOp.GELU_GRAD,
                UnaryOp.GELU_TANH_GRAD, UnaryOp.SIGMOID, UnaryOp.SILU, UnaryOp.SILU_GRAD, UnaryOp.RELU})
            kernels.put(op.name(), () -> FloatKernels.unary(op, x, y, N));
        float[] sink = new float[1];
        kernels.put("max", () -> sink[0] += FloatKernels.max(x, N));
        kernels.put("sum", () -> sink[0] += (float) FloatKernels.sum(x, N));
        kernels.put("softmaxRow", () -> { System.arraycopy(x, 0, y, 0, 1024); FloatKernels.softmaxRow(y, 1024); });
        kernels.put("accumulate", () -> FloatKernels.accumulate(z, y, N));
        StringBuilder bad = new StringBuilder();
        for (var e : kernels.entrySet()) {
            long bytes = steadyAllocation(e.getValue());
            if (bytes > LIMIT) bad.append(e.getKey()).append(": ").append(bytes).append(" bytes per call of ").append(N).append(" floats; ");
        }
        assertTrue(bad.isEmpty(), "kernels still allocating after warm-up (not compiled to SIMD): " + bad);
    }
}
