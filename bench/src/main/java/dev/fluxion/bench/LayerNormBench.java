package dev.fluxion.bench;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * Layer norm over the last dim of a float32 [4096, 1024] tensor with a weight and a bias (1024 each), as
 * torch.nn.functional.layer_norm in bench/python/torch_workloads.py:
 * <ul>
 *   <li>{@code forward}: y = layerNorm(x, w, b, 1e-5), no gradient recorded; GB/s = 2 x 16 MiB (x read, y written) / time;</li>
 *   <li>{@code forwardBackward}: the same with x, w and b requiring gradients, then backward from a fixed
 *       output gradient (dx, dw, db, the gradients reset first so none is accumulated); ms.</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class LayerNormBench {
    static final int ROWS = 4096, COLS = 1024;
    static final double EPS = 1e-5;

    /** Bytes one forward moves at least: x read and y written. */
    static double bytes() { return 2.0 * Float.BYTES * ROWS * COLS; }

    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class Input {
        Tensor x, w, b, g;   // x, g (4096, 1024); w, b (1024)

        @Setup(Level.Trial) public void setup() {
            Generator gen = new Generator(1);
            x = Tensor.randn(gen, ROWS, COLS);
            w = Tensor.randn(gen, COLS);
            b = Tensor.randn(gen, COLS);
            g = Tensor.randn(gen, ROWS, COLS);
        }
    }

    @Benchmark
    public float forward(Input in) {
        try (var scope = Scope.open()) {
            return in.x.layerNorm(in.w, in.b, EPS).numel();
        }
    }

    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class Grads {
        final Input in = new Input();   // x, w and b requiring gradients

        @Setup(Level.Trial) public void setup() {
            in.setup();
            for (Tensor t : new Tensor[] {in.x, in.w, in.b}) t.requiresGrad(true);
        }
    }

    @Benchmark
    public float forwardBackward(Grads grads) {
        Input in = grads.in;
        try (var scope = Scope.open()) {
            for (Tensor t : new Tensor[] {in.x, in.w, in.b}) clearGrad(t);
            in.x.layerNorm(in.w, in.b, EPS).backward(in.g);
            return in.x.grad().numel();
        }
    }

    /** Drops and frees t's gradient (gradients outlive the step's scope), as PyTorch's {@code t.grad = None}. */
    private static void clearGrad(Tensor t) {
        Tensor old = t.grad();
        if (old == null) return;
        t.setGrad(null);
        old.close();
    }
}
