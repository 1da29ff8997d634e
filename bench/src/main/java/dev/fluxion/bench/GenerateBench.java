package dev.fluxion.bench;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Generation;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.KvCache;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;
import java.util.Locale;

/**
 * The per-token cost of Gpt.generate with and without the KV cache: (1) the time of the step that makes the
 * token at position L (a one-token forward against the cache, or a full forward of L tokens), for several L;
 * (2) ms/token of a whole generate() that fills the context from a one-token prompt. Batch 1, float32, CPU.
 *
 * <pre>
 * mvn -B -q -pl bench -am package -DskipTests
 * java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar dev.fluxion.bench.GenerateBench [context layers width heads]
 * </pre>
 */
public final class GenerateBench {
    private GenerateBench() {}

    public static void main(String[] args) {
        int context = arg(args, 0, 256), layers = arg(args, 1, 4), width = arg(args, 2, 256), heads = arg(args, 3, 4);
        var config = new Gpt.Config(256, context, layers, heads, width, 0.0);
        Gpt model = new Gpt(config, Init.seed(1));
        model.eval();
        System.out.printf(Locale.ROOT, "Gpt vocab 256, context %d, %d layers, width %d, %d heads (%,d parameters); batch 1, float32, %d CPUs%n",
                context, layers, width, heads, model.parameterCount(), Runtime.getRuntime().availableProcessors());
        long[] seq = new long[context];
        Generator g = new Generator(2);
        for (int i = 0; i < context; i++) seq[i] = g.nextLong(0, 256);

        System.out.printf("%n%8s %18s %20s %8s%n", "L", "cached ms/token", "full forward ms", "ratio");
        try (var noGrad = Autodiff.noGrad()) {
            for (int len : new int[] {context / 8, context / 4, context / 2, context}) {
                double cached = median(7, () -> cachedStep(model, config, seq, len));
                double full = median(5, () -> {
                    try (var scope = Scope.open()) {
                        long t0 = System.nanoTime();
                        model.forward(Tensor.of(Arrays.copyOf(seq, len), 1, len)).select(1, len - 1).toFloatArray();
                        return (System.nanoTime() - t0) / 1e6;
                    }
                });
                System.out.printf(Locale.ROOT, "%8d %18.2f %20.2f %8.1f%n", len, cached, full, full / cached);
            }
        }

        System.out.printf("%ngenerate() from a 1-token prompt, %d new tokens (fills the context), temperature 1:%n", context - 1);
        for (boolean cache : new boolean[] {true, false}) {
            var opts = Generation.Options.DEFAULT.withMaxNewTokens(context - 1).withCache(cache);
            model.generate(Tensor.of(new long[] {1}, 1, 1), opts.withMaxNewTokens(16), new Generator(3));   // warm-up
            long t0 = System.nanoTime();
            model.generate(Tensor.of(new long[] {1}, 1, 1), opts, new Generator(3));
            double ms = (System.nanoTime() - t0) / 1e6;
            System.out.printf(Locale.ROOT, "  %-14s %10.0f ms total %10.2f ms/token%n", cache ? "with cache" : "without cache", ms, ms / (context - 1));
        }
    }

    /** Fills a cache with len - 1 tokens (untimed), then times the one-token step for position len - 1. */
    private static double cachedStep(Gpt model, Gpt.Config config, long[] seq, int len) {
        try (var cache = new KvCache(config, 1, DType.FLOAT32, Device.CPU); var scope = Scope.open()) {
            model.forwardCached(Tensor.of(Arrays.copyOf(seq, len - 1), 1, len - 1), cache);
            Tensor next = Tensor.of(new long[] {seq[len - 1]}, 1, 1);
            long t0 = System.nanoTime();
            model.forwardCached(next, cache).toFloatArray();
            return (System.nanoTime() - t0) / 1e6;
        }
    }

    private static double median(int runs, java.util.function.DoubleSupplier run) {
        run.getAsDouble();   // warm-up
        double[] t = new double[runs];
        for (int i = 0; i < runs; i++) t[i] = run.getAsDouble();
        Arrays.sort(t);
        return t[runs / 2];
    }

    private static int arg(String[] args, int i, int dflt) { return args.length > i ? Integer.parseInt(args[i]) : dflt; }
}
