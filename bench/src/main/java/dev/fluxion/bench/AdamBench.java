package dev.fluxion.bench;

import dev.fluxion.optim.Adam;
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

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One Adam step over 10M float32 parameters in 10 tensors of 1M, gradients fixed (as torch_workloads.py's adam). */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class AdamBench {
    @State(Scope.Benchmark)
    public static class Params {
        Adam opt;

        @Setup(Level.Trial) public void setup() {
            Generator g = new Generator(1);
            List<Tensor> ps = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                Tensor p = Tensor.randn(g, 1_000_000).requiresGrad(true);
                p.setGrad(Tensor.randn(g, 1_000_000));
                ps.add(p);
            }
            opt = new Adam(ps, Adam.Config.DEFAULT);
        }
    }

    @Benchmark
    public int step(Params s) {
        s.opt.step();
        return 0;
    }
}
