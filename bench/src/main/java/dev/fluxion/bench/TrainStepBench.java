package dev.fluxion.bench;

import dev.fluxion.nn.Conv2d;
import dev.fluxion.nn.Flatten;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.MaxPool2d;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.ReLU;
import dev.fluxion.nn.Sequential;
import dev.fluxion.optim.Adam;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Optimizer;
import dev.fluxion.optim.SGD;
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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * One training step (zeroGrad, forward, loss, backward, optimizer step) of the models of the nn issue,
 * the same as bench/python/torch_workloads.py times in PyTorch:
 * <ul>
 *   <li>mlp: 784-1024-1024-10 with ReLU, batch 256, SGD;</li>
 *   <li>gpt: vocab 256, context 128, 4 layers, 4 heads, width 256, batch 16, AdamW;</li>
 *   <li>cnn: the CnnClassifier example's model (two conv/ReLU/max-pool stages, a linear head) on 16x16 images, batch 32, Adam.</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
public class TrainStepBench {
    @org.openjdk.jmh.annotations.State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class Setup_ {
        @Param({"mlp", "gpt", "cnn"}) public String model;
        Module net;
        Optimizer<?, ?> opt;
        Tensor x, y;

        @Setup(Level.Trial) public void setup() {
            Init init = Init.seed(0);
            Generator g = new Generator(1);
            switch (model) {
                case "mlp" -> {
                    net = new Sequential(new Linear(784, 1024, true, init), new ReLU(), new Linear(1024, 1024, true, init), new ReLU(),
                            new Linear(1024, 10, true, init));
                    opt = new SGD(net.parameters(), SGD.Config.DEFAULT.withLr(0.01));
                    x = Tensor.randn(g, 256, 784);
                    y = Tensor.randint(g, 0, 10, 256);
                }
                case "gpt" -> {
                    net = new Gpt(Gpt.Config.SMALL, init);
                    opt = new AdamW(net.parameters(), AdamW.Config.DEFAULT.withLr(3e-4));
                    x = Tensor.randint(g, 0, 256, 16, 128);
                    y = Tensor.randint(g, 0, 256, 16, 128);
                }
                case "cnn" -> {
                    net = new Sequential(new Conv2d(1, 8, 3, 1, 1, true, init), new ReLU(), new MaxPool2d(2, 2),
                            new Conv2d(8, 16, 3, 1, 1, true, init), new ReLU(), new MaxPool2d(2, 2), new Flatten(), new Linear(16 * 4 * 4, 4, true, init));
                    opt = new Adam(net.parameters(), Adam.Config.DEFAULT.withLr(3e-3));
                    x = Tensor.randn(g, 32, 1, 16, 16);
                    y = Tensor.randint(g, 0, 4, 32);
                }
                default -> throw new IllegalArgumentException("TrainStepBench: unknown model " + model);
            }
        }
    }

    @Benchmark
    public double step(Setup_ s) {
        try (var scope = Scope.open()) {
            Tensor loss = Losses.crossEntropy(s.net.forward(s.x), s.y);
            s.opt.zeroGrad();
            loss.backward();
            s.opt.step();
            return loss.numel();
        }
    }
}
