package dev.fluxion.bench;

import org.openjdk.jmh.Main;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Runs JMH with the usual command-line options, then prints each benchmark as a rate (GFLOP/s, GB/s), from
 * its median and from its best iteration, next to the peer measured in the same run, and the ratios. The load average of the
 * machine is printed before and after: a ratio taken on a busy machine is a ratio of noise.
 *
 * <pre>{@code java -cp target/benchmarks.jar dev.fluxion.bench.Report -wi 2 -i 3 GemmBench}</pre>
 */
public final class Report {
    private Report() {}

    /** What one op of a benchmark class does (in units of 1e9), and which of its methods the others are compared with. */
    private record Metric(String unit, String peer, ToDoubleFunction<BenchmarkParams> workPerOp) {}

    private static final Map<String, Metric> METRICS = Map.of(
            GemmBench.class.getName(), new Metric("GFLOP/s", "direct", p -> GemmBench.flops(Integer.parseInt(p.getParam("size"))) / 1e9),
            ElementwiseBench.class.getName(), new Metric("GB/s", "loopParallel", p -> ElementwiseBench.bytes() / 1e9));

    public static void main(String[] args) throws Exception {
        CommandLineOptions opts = new CommandLineOptions(args);
        if (opts.shouldHelp() || opts.shouldList() || opts.shouldListWithParams() || opts.shouldListProfilers() || opts.shouldListResultFormats()) {
            Main.main(args);
            return;
        }
        String before = loadAverage();
        Collection<RunResult> results = new Runner(opts).run();
        System.out.println();
        System.out.println("Load average (1, 5, 15 min) before: " + before + ", after: " + loadAverage() + " on "
                + Runtime.getRuntime().availableProcessors() + " cores");
        System.out.print(table(results));
    }

    /** One row per result: benchmark, parameters, rates, and rate / peer rate for the same parameters. */
    static String table(Collection<RunResult> results) {
        List<RunResult> sorted = new ArrayList<>(results);
        sorted.sort(Comparator.comparing((RunResult r) -> r.getParams().getBenchmark()).thenComparing(r -> sizeKey(r.getParams())));
        Map<String, double[]> rates = new HashMap<>();
        for (RunResult r : sorted) {
            double[] v = rates(r);
            if (v != null) rates.put(r.getParams().getBenchmark() + params(r.getParams()), v);
        }
        String fmt = "%-30s %-10s %10s %10s %-8s %12s %10s%n";
        StringBuilder sb = new StringBuilder(String.format(fmt, "Benchmark", "Params", "Median", "Best", "Unit", "vs peer", "best/best"));
        for (RunResult r : sorted) {
            BenchmarkParams p = r.getParams();
            String name = p.getBenchmark();
            double[] v = rates.get(name + params(p));
            if (v == null) continue;
            Metric m = METRICS.get(className(name));
            double[] peer = rates.get(className(name) + "." + m.peer() + params(p));
            boolean isPeer = name.endsWith("." + m.peer());
            String ratio = isPeer ? "(peer)" : peer == null ? "" : String.format("%.2fx", v[0] / peer[0]);
            String bestRatio = isPeer || peer == null ? "" : String.format("%.2fx", v[1] / peer[1]);
            sb.append(String.format(fmt, shortName(name), params(p), String.format("%.2f", v[0]), String.format("%.2f", v[1]), m.unit(), ratio, bestRatio));
        }
        return sb.toString();
    }

    /**
     * Work per second in the metric's unit, {median iteration, best iteration}, from an average-time or
     * throughput run; null for other modes and unknown benchmarks. The median rather than the mean, so that
     * an iteration which met another process does not move the figure; the best as the quiet-machine bound.
     */
    private static double[] rates(RunResult r) {
        BenchmarkParams p = r.getParams();
        Metric m = METRICS.get(className(p.getBenchmark()));
        if (m == null || p.getMode() != Mode.AverageTime && p.getMode() != Mode.Throughput) return null;
        var stats = r.getPrimaryResult().getStatistics();
        double unitSeconds = TimeUnit.NANOSECONDS.convert(1, p.getTimeUnit()) * 1e-9;
        double work = m.workPerOp().applyAsDouble(p);
        if (p.getMode() == Mode.AverageTime)      // score: time per op
            return new double[] {work / (stats.getPercentile(50) * unitSeconds), work / (stats.getMin() * unitSeconds)};
        return new double[] {work * stats.getPercentile(50) / unitSeconds, work * stats.getMax() / unitSeconds};   // ops per time
    }

    private static String params(BenchmarkParams p) {
        Map<String, String> sorted = new TreeMap<>();
        for (Object k : p.getParamsKeys()) sorted.put((String) k, p.getParam((String) k));
        StringBuilder sb = new StringBuilder();
        sorted.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ",").append(k).append('=').append(v));
        return sb.toString();
    }

    /** Numeric parameters sort by value (256 before 1024). */
    private static long sizeKey(BenchmarkParams p) {
        String s = p.getParamsKeys().contains("size") ? p.getParam("size") : "0";
        return Long.parseLong(s);
    }

    private static String className(String benchmark) { return benchmark.substring(0, benchmark.lastIndexOf('.')); }

    private static String shortName(String benchmark) {
        String cls = className(benchmark);
        return cls.substring(cls.lastIndexOf('.') + 1) + benchmark.substring(benchmark.lastIndexOf('.'));
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }
}
