package dev.fluxion.bench;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.cpu.CpuMemory;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

/**
 * c = a + b over 16M floats (64 MiB per operand), memory-bound. {@code tensor} is the public API,
 * out of place ({@code a.add(b)}, the result closed every call so the pool hands its buffer back next
 * time). Its peers write into arrays allocated once: {@code loop}, a plain Java loop on one thread, and
 * {@code loopParallel}, the same loop split over the common pool (the calling thread plus
 * availableProcessors - 1 workers). One op moves 3 x 64 MiB (two reads, one write).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 8, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class ElementwiseBench {
    static final int N = 1 << 24;

    /** Bytes one op reads and writes. */
    static double bytes() { return 3.0 * Float.BYTES * N; }

    static float[] input(long seed) {
        Generator g = new Generator(seed);
        float[] v = new float[N];
        for (int i = 0; i < N; i++) v[i] = g.nextFloat();
        return v;
    }

    @State(Scope.Benchmark)
    public static class Tensors {
        Tensor a, b;    // (N)

        @Setup(Level.Trial) public void setup() {
            a = Tensor.of(input(1), N);
            b = Tensor.of(input(2), N);
        }

        /** Fails the run when closed results were not reused: then it measured page touching, not the add. */
        @TearDown(Level.Trial) public void tearDown() {
            long peak = CpuMemory.stats().peak(), limit = 3L * Float.BYTES * N;   // a, b and one result
            a.close();
            b.close();
            if (peak > limit)
                throw new IllegalStateException("ElementwiseBench.tensor: CPU tensor memory peaked at " + peak + " bytes, over the " + limit
                        + " that two inputs and one result take; a closed add result did not go back to the CpuMemory pool");
        }
    }

    @State(Scope.Benchmark)
    public static class Preallocated {
        float[] a, b, c;    // (N)
        static final int PIECES = 64;

        @Setup(Level.Trial) public void setup() {
            a = input(1);
            b = input(2);
            c = new float[N];
        }

        void add(int lo, int hi) {
            float[] a = this.a, b = this.b, c = this.c;
            for (int i = lo; i < hi; i++) c[i] = a[i] + b[i];
        }
    }

    @Benchmark
    public void tensor(Tensors s) {
        Tensor c = s.a.add(s.b);
        c.close();
    }

    @Benchmark
    public float[] loop(Preallocated s) {
        s.add(0, N);
        return s.c;
    }

    @Benchmark
    public float[] loopParallel(Preallocated s) {
        int step = N / Preallocated.PIECES;
        IntStream.range(0, Preallocated.PIECES).parallel().forEach(p -> s.add(p * step, (p + 1) * step));
        return s.c;
    }
}
