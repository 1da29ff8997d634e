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
 * Runs JMH with the usual command-line options, then prints each benchmark as a rate (GFLOP/s, GB/s) taken
 * from its median iteration, next to the peer measured in the same run, and the ratio between them. The load average of the
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

    /** One row per result: benchmark, parameters, rate, and rate / peer rate for the same parameters. */
    static String table(Collection<RunResult> results) {
        Map<String, Double> rates = new HashMap<>();
        List<RunResult> sorted = new ArrayList<>(results);
        sorted.sort(Comparator.comparing((RunResult r) -> r.getParams().getBenchmark()).thenComparing(r -> sizeKey(r.getParams())));
        for (RunResult r : sorted) {
            double rate = rate(r);
            if (!Double.isNaN(rate)) rates.put(r.getParams().getBenchmark() + params(r.getParams()), rate);
        }
        StringBuilder sb = new StringBuilder(String.format("%-32s %-14s %12s %-8s %10s%n", "Benchmark", "Params", "Median rate", "Unit", "vs peer"));
        for (RunResult r : sorted) {
            BenchmarkParams p = r.getParams();
            String name = p.getBenchmark();
            Metric m = METRICS.get(className(name));
            double rate = rate(r);
            if (m == null || Double.isNaN(rate)) continue;
            String peerKey = className(name) + "." + m.peer() + params(p);
            Double peer = rates.get(peerKey);
            String ratio = peer == null ? "" : String.format("%.2fx", rate / peer);
            if (name.endsWith("." + m.peer())) ratio = "(peer)";
            sb.append(String.format("%-32s %-14s %12.2f %-8s %10s%n", shortName(name), params(p), rate, m.unit(), ratio));
        }
        return sb.toString();
    }

    /**
     * Work per second in the metric's unit, from the median iteration of an average-time or throughput run
     * (NaN for other modes). The median, not the mean: on a shared machine one iteration that met another
     * process should not move the figure.
     */
    private static double rate(RunResult r) {
        BenchmarkParams p = r.getParams();
        Metric m = METRICS.get(className(p.getBenchmark()));
        if (m == null) return Double.NaN;
        double score = r.getPrimaryResult().getStatistics().getPercentile(50);
        double unitSeconds = TimeUnit.NANOSECONDS.convert(1, p.getTimeUnit()) * 1e-9;
        double secondsPerOp;
        if (p.getMode() == Mode.AverageTime) secondsPerOp = score * unitSeconds;
        else if (p.getMode() == Mode.Throughput) secondsPerOp = unitSeconds / score;
        else return Double.NaN;
        return m.workPerOp().applyAsDouble(p) / secondsPerOp;
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
