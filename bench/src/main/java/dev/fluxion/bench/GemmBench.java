package dev.fluxion.bench;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.cpu.CpuMemory;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * fp32 GEMM C = A B of two square [size, size] matrices, two ways in the same run:
 * {@code tensor} through the public API ({@code a.matmul(b)}, the result closed every call so its memory
 * goes back to the pool), and its peer {@code direct}, one {@code cblas_sgemm} call on off-heap buffers
 * allocated once, which is the most the tensor path can reach. Each op is 2 size^3 floating-point operations;
 * the ratio direct time / tensor time is the fraction of OpenBLAS speed the tensor engine delivers.
 *
 * <p>Each benchmark takes only its own state, so the fork that measures {@code direct} never loads the
 * tensor engine and OpenBLAS keeps its own default thread count there.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 8, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class GemmBench {

    /** Floating-point operations of one size x size x size GEMM (a multiply and an add per term). */
    static double flops(int size) { return 2.0 * size * size * size; }

    /** The same seeded inputs for both paths. */
    static float[] input(int size, long seed) {
        Generator g = new Generator(seed);
        float[] v = new float[size * size];
        for (int i = 0; i < v.length; i++) v[i] = g.nextFloat() - 0.5f;
        return v;
    }

    @State(Scope.Benchmark)
    public static class Tensors {
        @Param({"256", "512", "1024", "2048"}) public int size;
        Tensor a, b;    // (size, size)

        @Setup(Level.Trial) public void setup() {
            a = Tensor.of(input(size, 1), size, size);
            b = Tensor.of(input(size, 2), size, size);
        }

        /** Fails the run when closed results were not reused: then it measured page touching, not GEMM. */
        @TearDown(Level.Trial) public void tearDown() {
            long peak = CpuMemory.stats().peak(), limit = 3L * Float.BYTES * size * size;   // a, b and one result
            a.close();
            b.close();
            if (peak > limit)
                throw new IllegalStateException("GemmBench.tensor: CPU tensor memory peaked at " + peak + " bytes, over the " + limit
                        + " that two inputs and one result take; a closed matmul result did not go back to the CpuMemory pool");
        }
    }

    @State(Scope.Benchmark)
    public static class Buffers {
        @Param({"256", "512", "1024", "2048"}) public int size;
        FloatPointer a, b, c;    // (size, size) row-major, off-heap

        @Setup(Level.Trial) public void setup() {
            a = new FloatPointer(input(size, 1));
            b = new FloatPointer(input(size, 2));
            c = new FloatPointer((long) size * size);
        }

        @TearDown(Level.Trial) public void tearDown() { a.close(); b.close(); c.close(); }
    }

    @Benchmark
    public void tensor(Tensors s) {
        Tensor c = s.a.matmul(s.b);   // writes native memory: the JIT cannot elide the call
        c.close();                    // the next call can reuse its memory
    }

    @Benchmark
    public void direct(Buffers s) {
        int n = s.size;
        openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor, openblas_nolapack.CblasNoTrans, openblas_nolapack.CblasNoTrans,
                n, n, n, 1f, s.a, n, s.b, n, 0f, s.c, n);
    }
}
