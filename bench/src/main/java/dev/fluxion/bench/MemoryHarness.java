package dev.fluxion.bench;

import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.ReLU;
import dev.fluxion.nn.Sequential;
import dev.fluxion.nn.Init;
import dev.fluxion.optim.SGD;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.cpu.CpuMemory;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Peak memory of the same training loop written with a {@link Scope} per step and written as a PyTorch
 * user writes it, with none: TrainStepBench's MLP (784-1024-1024-10, batch 256, SGD). Each variant runs in a
 * fresh JVM with default settings (no heap or direct-memory flags), and the harness prints the peak resident
 * set size (VmHWM), the pool's peak of live tensor bytes and the time per step, with the ratios unscoped /
 * scoped. Linux only (it reads /proc/self/status).
 *
 * <pre>
 * mvn -B -q -pl bench -am package -DskipTests
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.fluxion.bench.MemoryHarness [steps]
 * </pre>
 */
public final class MemoryHarness {
    private MemoryHarness() {}

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length >= 2 && args[0].equals("--child")) {
            child(args[1].equals("scoped"), Integer.parseInt(args[2]));
            return;
        }
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        double[] scoped = runChild("scoped", steps), unscoped = runChild("unscoped", steps);
        System.out.printf("MLP 784-1024-1024-10, batch 256, SGD, %d steps, one fresh JVM per loop%n", steps);
        System.out.printf("%-10s %14s %16s %12s%n", "loop", "peak RSS MiB", "pool peak MiB", "ms/step");
        System.out.printf("%-10s %14.0f %16.0f %12.2f%n", "scoped", scoped[0], scoped[1], scoped[2]);
        System.out.printf("%-10s %14.0f %16.0f %12.2f%n", "unscoped", unscoped[0], unscoped[1], unscoped[2]);
        System.out.printf("%-10s %13.2fx %15.2fx %11.2fx%n", "ratio", unscoped[0] / scoped[0], unscoped[1] / scoped[1], unscoped[2] / scoped[2]);
    }

    /** Runs one loop in a fresh JVM; returns {peak RSS MiB, pool peak MiB, ms per step}. */
    private static double[] runChild(String mode, int steps) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                MemoryHarness.class.getName(), "--child", mode, Integer.toString(steps)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String result = null;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("RESULT ")) result = line.substring(7);
            }
        }
        if (p.waitFor() != 0 || result == null) throw new IllegalStateException("MemoryHarness: the " + mode + " loop failed (exit " + p.exitValue() + ")");
        String[] f = result.trim().split(" ");
        return new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2])};
    }

    private static void child(boolean scoped, int steps) throws IOException {
        Init init = Init.seed(0);
        Generator g = new Generator(1);
        Module net = new Sequential(new Linear(784, 1024, true, init), new ReLU(), new Linear(1024, 1024, true, init), new ReLU(),
                new Linear(1024, 10, true, init));
        SGD opt = new SGD(net.parameters(), SGD.Config.DEFAULT.withLr(0.01));
        Tensor x = Tensor.randn(g, 256, 784), y = Tensor.randint(g, 0, 10, 256);
        long start = 0;
        int warmup = Math.min(10, steps / 4);
        for (int step = 0; step < steps; step++) {
            if (step == warmup) start = System.nanoTime();
            if (scoped) {
                try (var scope = Scope.open()) {
                    step(net, opt, x, y);
                }
            } else {
                step(net, opt, x, y);
            }
        }
        double msPerStep = (System.nanoTime() - start) / 1e6 / (steps - warmup);
        System.out.printf("RESULT %.1f %.1f %.3f%n", peakRssMiB(), CpuMemory.stats().peak() / 1048576.0, msPerStep);
    }

    private static void step(Module net, SGD opt, Tensor x, Tensor y) {
        Tensor loss = Losses.crossEntropy(net.forward(x), y);
        opt.zeroGrad();
        loss.backward();
        opt.step();
    }

    private static double peakRssMiB() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) / 1024.0;
        throw new IllegalStateException("MemoryHarness: no VmHWM in /proc/self/status");
    }
}
