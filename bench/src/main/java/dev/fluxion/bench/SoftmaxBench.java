package dev.fluxion.bench;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
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
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/** Softmax over the last dim of a float32 [4096, 1024] tensor, the result closed. GB/s = 2 x 16 MiB / time. */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class SoftmaxBench {
    static final int ROWS = 4096, COLS = 1024;

    static double bytes() { return 2.0 * Float.BYTES * ROWS * COLS; }

    @State(Scope.Benchmark)
    public static class Input {
        Tensor x;   // (4096, 1024)

        @Setup(Level.Trial) public void setup() { x = Tensor.randn(new Generator(1), ROWS, COLS); }
    }

    @Benchmark
    public float tensor(Input in) {
        try (Tensor y = in.x.softmax(-1)) {
            return y.numel();
        }
    }
}
