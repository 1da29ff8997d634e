package dev.fluxion.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.fluxion.tensor.cpu.CpuBackend;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Fluxion against PyTorch on the same machine in one run: Fluxion's JMH benchmarks and the same workloads in
 * PyTorch (bench/python/torch_workloads.py, with Debian's OpenBLAS when it is installed), in rounds that alternate
 * which side goes first (3 by default, 1 with --quick), then a table (workload, Fluxion, PyTorch, ratio, range,
 * unit) also written to bench/results/latest.json. Ratios are "how many times Fluxion's speed": fluxion/pytorch
 * for rates, pytorch/fluxion for times, per round; the table gives their median and range.
 *
 * <pre>mvn -B -q -pl bench -am verify -DskipTests -Pcompare [-Dcompare.args="--quick --only gemm,mlp --rounds 1"]</pre>
 */
public final class SideBySide {
    /** A workload both sides run, how to find it among JMH results, and how to turn a JMH score into its unit. */
    record Workload(String name, String benchmark, String param, String unit, double workPerOp) {
        boolean isTime() { return unit.equals("ms"); }
    }

    static final List<Workload> WORKLOADS = List.of(
            new Workload("gemm_fp32_256", "GemmBench.tensor", "size=256", "GFLOP/s", GemmBench.flops(256) / 1e9),
            new Workload("gemm_fp32_512", "GemmBench.tensor", "size=512", "GFLOP/s", GemmBench.flops(512) / 1e9),
            new Workload("gemm_fp32_1024", "GemmBench.tensor", "size=1024", "GFLOP/s", GemmBench.flops(1024) / 1e9),
            new Workload("gemm_fp32_2048", "GemmBench.tensor", "size=2048", "GFLOP/s", GemmBench.flops(2048) / 1e9),
            new Workload("add_16M", "ElementwiseBench.tensor", "", "GB/s", ElementwiseBench.bytes() / 1e9),
            new Workload("softmax_4096x1024", "SoftmaxBench.tensor", "", "GB/s", SoftmaxBench.bytes() / 1e9),
            new Workload("layernorm_4096x1024", "LayerNormBench.forward", "", "GB/s", LayerNormBench.bytes() / 1e9),
            new Workload("layernorm_fwd_bwd_4096x1024", "LayerNormBench.forwardBackward", "", "ms", 0),
            new Workload("mlp_train_step", "TrainStepBench.step", "model=mlp", "ms", 0),
            new Workload("gpt_small_train_step", "TrainStepBench.step", "model=gpt", "ms", 0),
            new Workload("cnn_train_step", "TrainStepBench.step", "model=cnn", "ms", 0),
            new Workload("adam_step_10M", "AdamBench.step", "", "ms", 0),
            allReduce(2, 1), allReduce(2, 16), allReduce(2, 64), allReduce(4, 1), allReduce(4, 16), allReduce(4, 64));

    private static Workload allReduce(int ranks, int mib) {
        return new Workload("allreduce_" + ranks + "ranks_" + mib + "MiB", "AllReduceBench.allReduce", "ranks=" + ranks + ",sizeMib=" + mib,
                "GB/s (bus)", AllReduceBench.busBytes(ranks, mib) / 1e9);
    }

    /** Which python groups cover which workloads (to run only what was asked). */
    static final Map<String, String> GROUP = Map.of("gemm", "GemmBench", "elementwise", "ElementwiseBench|SoftmaxBench",
            "layernorm", "LayerNormBench", "mlp", "TrainStepBench", "gpt", "TrainStepBench", "cnn", "TrainStepBench", "adam", "AdamBench", "allreduce", "AllReduceBench");

    public static void main(String[] args) throws Exception {
        boolean quick = false;
        String only = "";
        int rounds = 0;
        Path repo = Path.of(System.getProperty("fluxion.repo", "..")).toAbsolutePath().normalize();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--quick" -> quick = true;
                case "--only" -> only = args[++i];
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--repo" -> repo = Path.of(args[++i]).toAbsolutePath().normalize();
                default -> throw new IllegalArgumentException("SideBySide: unknown argument " + args[i] + " (known: --quick, --only g1,g2, --rounds N, --repo DIR)");
            }
        }
        if (rounds == 0) rounds = quick ? 1 : 3;
        if (rounds < 1) throw new IllegalArgumentException("SideBySide: --rounds " + rounds + " must be >= 1");
        // Rounds alternate which side goes first (F P, P F, F P, ...): on a shared machine a slow spell then hits
        // both sides about equally, and the median of the per-round ratios drops a round that met one.
        List<Map<String, Double>> fluxionRounds = new ArrayList<>(), torchRounds = new ArrayList<>();
        String torchDevice = "cpu (gloo)", torchBlas = "-";
        for (int round = 0; round < rounds; round++) {
            boolean torchFirst = round % 2 == 1;
            System.out.printf(Locale.ROOT, "side by side: round %d of %d (%s first)%n", round + 1, rounds, torchFirst ? "PyTorch" : "Fluxion");
            List<JsonNode> torch = null;
            if (torchFirst) torch = runPyTorch(repo, only, quick);
            fluxionRounds.add(runFluxion(only, quick));
            if (!torchFirst) torch = runPyTorch(repo, only, quick);
            Map<String, Double> values = new LinkedHashMap<>();
            for (JsonNode n : torch) {
                values.put(n.get("workload").asText(), n.get("value").asDouble());
                if (n.has("device")) torchDevice = n.get("device").asText();
                if (n.has("blas")) torchBlas = n.get("blas").asText();
            }
            torchRounds.add(values);
        }
        String device = "cpu: " + Runtime.getRuntime().availableProcessors() + " cores; Fluxion BLAS: " + CpuBackend.blasInfo()
                + "; PyTorch " + torchDevice + " BLAS: " + torchBlas;
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Workload w : WORKLOADS) {
            List<Double> f = new ArrayList<>(), p = new ArrayList<>(), ratios = new ArrayList<>();
            for (int round = 0; round < rounds; round++) {
                Double fr = fluxionRounds.get(round).get(w.name()), pr = torchRounds.get(round).get(w.name());
                if (fr != null) f.add(fr);
                if (pr != null) p.add(pr);
                if (fr != null && pr != null) ratios.add(w.isTime() ? pr / fr : fr / pr);
            }
            if (f.isEmpty() && p.isEmpty()) continue;
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("workload", w.name());
            row.put("fluxion", median(f));
            row.put("pytorch", median(p));
            row.put("ratio", median(ratios));
            row.put("ratio_min", ratios.isEmpty() ? null : Collections.min(ratios));
            row.put("ratio_max", ratios.isEmpty() ? null : Collections.max(ratios));
            row.put("rounds", ratios.size());
            row.put("unit", w.unit());
            row.put("device", device);
            rows.add(row);
        }
        System.out.println(table(rows, device));
        Path out = repo.resolve("bench/results/latest.json");
        Files.createDirectories(out.getParent());
        Path tmp = out.resolveSibling("latest.json.tmp");
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(tmp.toFile(), rows);
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.out.println("wrote " + out);
    }

    /** The median (the mean of the middle two for an even count); null for none. */
    static Double median(List<Double> values) {
        if (values.isEmpty()) return null;
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    static Map<String, Double> runFluxion(String only, boolean quick) throws Exception {
        List<String> classes = new ArrayList<>();
        for (String g : only.isEmpty() ? List.of("gemm", "elementwise", "layernorm", "mlp", "gpt", "cnn", "adam", "allreduce") : List.of(only.split(","))) {
            if (!GROUP.containsKey(g)) throw new IllegalArgumentException("SideBySide: unknown group " + g + "; known: " + GROUP.keySet());
            for (String c : GROUP.get(g).split("\\|")) if (!classes.contains(c)) classes.add(c);
        }
        // Sample mode: JMH times single calls, so a figure is the median of single calls, as on the PyTorch side
        // (torch_workloads.py and allreduce_gloo.py time each call and take the median). The benchmarks' own mode,
        // the mean time of the calls in a 1-2 s iteration, is another estimator: a stall inside an iteration moves
        // its mean but not a median of calls, so the two sides would not be measured alike.
        var opts = new OptionsBuilder().shouldFailOnError(true).mode(Mode.SampleTime);
        for (String c : classes) {
            String method = c.equals("GemmBench") || c.equals("ElementwiseBench") ? ".tensor$" : "";
            opts.include("dev\\.fluxion\\.bench\\." + c + method);
        }
        List<String> models = new ArrayList<>();                               // the training-step models asked for
        for (String m : List.of("mlp", "gpt", "cnn")) if (only.isEmpty() || List.of(only.split(",")).contains(m)) models.add(m);
        if (!models.isEmpty()) opts.param("model", models.toArray(new String[0]));
        if (quick) opts.warmupIterations(2).measurementIterations(3).measurementTime(TimeValue.seconds(1)).warmupTime(TimeValue.seconds(1));
        Map<String, Double> out = new LinkedHashMap<>();
        for (RunResult r : new Runner(opts.build()).run()) {
            var p = r.getParams();
            String bench = p.getBenchmark().substring("dev.fluxion.bench.".length());
            StringBuilder pk = new StringBuilder();
            for (String key : new java.util.TreeSet<>(p.getParamsKeys())) pk.append(pk.length() == 0 ? "" : ",").append(key).append('=').append(p.getParam(key));
            String param = pk.toString();
            for (Workload w : WORKLOADS) {
                if (!w.benchmark().equals(bench) || !w.param().equals(param)) continue;
                // time per op in the benchmark's unit: the median of the sampled calls of every measurement iteration
                double score = r.getPrimaryResult().getStatistics().getPercentile(50.0);
                TimeUnit unit = p.getTimeUnit();
                double seconds = score * unit.toNanos(1) / 1e9;
                out.put(w.name(), w.isTime() ? seconds * 1e3 : w.workPerOp() / seconds);
            }
        }
        return out;
    }

    static List<JsonNode> runPyTorch(Path repo, String only, boolean quick) throws IOException, InterruptedException {
        Path script = repo.resolve("bench/python/torch_workloads.py");
        String python = Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3";
        List<String> cmd = new ArrayList<>(List.of(python, script.toString(), "--threads", Integer.toString(Runtime.getRuntime().availableProcessors())));
        if (quick) cmd.add("--quick");
        List<String> groups = new ArrayList<>(only.isEmpty() ? List.of() : List.of(only.split(",")));
        boolean allReduce = groups.isEmpty() || groups.remove("allreduce");       // Gloo runs from its own script below
        if (!only.isEmpty() && groups.isEmpty()) return allReduce ? glooBoth(repo, python, quick) : List.of();
        if (!groups.isEmpty()) { cmd.add("--only"); cmd.add(String.join(",", groups)); }
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
        Path debianOpenBlas = Path.of("/usr/lib/x86_64-linux-gnu/openblas-openmp");
        if (Files.exists(debianOpenBlas.resolve("libopenblas.so.0")))       // PyTorch at its best: OpenBLAS, not the reference BLAS
            pb.environment().merge("LD_LIBRARY_PATH", debianOpenBlas.toString(), (a, b) -> b + ":" + a);
        else System.out.println("note: Debian's libopenblas0-openmp is not installed; PyTorch runs on the reference BLAS (apt-get install libopenblas0-openmp)");
        pb.environment().put("OMP_NUM_THREADS", Integer.toString(Runtime.getRuntime().availableProcessors()));
        Process proc = pb.start();
        List<JsonNode> out = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        try (var r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) if (line.startsWith("{")) out.add(json.readTree(line));
        }
        if (!proc.waitFor(30, TimeUnit.MINUTES) || proc.exitValue() != 0)
            throw new IllegalStateException("SideBySide: " + String.join(" ", cmd) + " failed (exit " + proc.exitValue()
                    + "); PyTorch comes from Debian's python3-torch: apt-get install python3-torch libopenblas0-openmp");
        if (allReduce) out.addAll(glooBoth(repo, python, quick));
        return out;
    }

    static List<JsonNode> glooBoth(Path repo, String python, boolean quick) throws IOException, InterruptedException {
        List<JsonNode> out = new ArrayList<>();
        for (int ranks : new int[] {2, 4}) out.addAll(gloo(repo, python, ranks, quick, new ObjectMapper()));
        return out;
    }

    /** PyTorch's Gloo all-reduce (bench/python/allreduce_gloo.py), its bus-bandwidth column as rows like the others. */
    static List<JsonNode> gloo(Path repo, String python, int ranks, boolean quick, ObjectMapper json) throws IOException, InterruptedException {
        List<String> cmd = List.of(python, repo.resolve("bench/python/allreduce_gloo.py").toString(), "--nproc", Integer.toString(ranks),
                "--sizes-mib", "1,16,64", "--iters", quick ? "5" : "10");
        Process proc = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<JsonNode> out = new ArrayList<>();
        var row = java.util.regex.Pattern.compile("^\\s*(\\d+) MiB\\s+([\\d.]+)\\s+([\\d.]+)\\s+([\\d.]+)\\s*$");
        try (var r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                var m = row.matcher(line);
                if (!m.matches()) continue;
                var node = json.createObjectNode();
                node.put("workload", "allreduce_" + ranks + "ranks_" + m.group(1) + "MiB");
                node.put("value", Double.parseDouble(m.group(4)));
                node.put("unit", "GB/s (bus)");
                out.add(node);
            }
        }
        if (!proc.waitFor(10, TimeUnit.MINUTES) || proc.exitValue() != 0)
            throw new IllegalStateException("SideBySide: " + String.join(" ", cmd) + " failed (exit " + proc.exitValue() + ")");
        return out;
    }

    static String table(List<Map<String, Object>> rows, String device) {
        StringBuilder sb = new StringBuilder();
        sb.append(device).append('\n');
        sb.append(String.format(Locale.ROOT, "%-27s %12s %12s %8s %12s  %s%n", "workload", "Fluxion", "PyTorch", "ratio", "range", "unit"));
        for (Map<String, Object> r : rows) {
            Object lo = r.get("ratio_min"), hi = r.get("ratio_max");
            String range = lo == null || (Integer) r.get("rounds") < 2 ? "-" : String.format(Locale.ROOT, "%.2f-%.2f", (Double) lo, (Double) hi);
            sb.append(String.format(Locale.ROOT, "%-27s %12s %12s %8s %12s  %s%n", r.get("workload"), num(r.get("fluxion")), num(r.get("pytorch")),
                    r.get("ratio") == null ? "-" : String.format(Locale.ROOT, "%.2fx", (Double) r.get("ratio")), range, r.get("unit")));
        }
        sb.append("ratio = Fluxion's speed relative to PyTorch's (> 1: Fluxion is faster; for ms rows it is PyTorch ms / Fluxion ms):\n"
                + "the median over the rounds of each round's ratio; range = the lowest and highest round. Fluxion and PyTorch:\n"
                + "the medians of each side's figures over the rounds.");
        return sb.toString();
    }

    private static String num(Object v) { return v == null ? "-" : String.format(Locale.ROOT, "%.2f", (Double) v); }
}
